/**
 * The bounded window of rows being sent, waiting for a retry, or queued behind a row
 * with the same id. The reader is not asked for more while it is full, which is the
 * backpressure that keeps memory flat however large the file; and rows with the same
 * id run one after another, in file order, so the last row in the file wins.
 */
import pLimit, { type LimitFunction } from 'p-limit';

export class OrderedWindow {
  readonly size: number;
  readonly #limit: LimitFunction;
  readonly #onError: (err: unknown) => void;
  readonly #tasks = new Set<Promise<void>>();
  /** The last task added per key: the next one with that key waits for it. */
  readonly #lastByKey = new Map<string, Promise<void>>();
  #slotFreed: (() => void) | undefined;

  /**
   * @param size tasks in the window at most (running, or waiting for a slot or a key)
   * @param onError what to do with a task's error; the window itself goes on
   */
  constructor(size: number, onError: (err: unknown) => void) {
    this.size = size;
    this.#limit = pLimit(size);
    this.#onError = onError;
  }

  /** Tasks in the window now. */
  get count(): number {
    // p-limit counts a task as pending until it starts, so active + pending is the
    // number of tasks in the window right now.
    return this.#limit.activeCount + this.#limit.pendingCount;
  }

  get full(): boolean {
    return this.count >= this.size;
  }

  /** Add a task; it starts after every earlier task with the same `key` has settled. */
  add(key: string, task: () => Promise<void>): void {
    const previous = this.#lastByKey.get(key);
    const settled = this.#limit(async () => {
      if (previous !== undefined) await previous;
      await task();
    }).catch(this.#onError);
    const done = settled.finally(() => {
      this.#tasks.delete(done);
      if (this.#lastByKey.get(key) === done) this.#lastByKey.delete(key);
      this.#slotFreed?.();
    });
    this.#tasks.add(done);
    this.#lastByKey.set(key, done);
  }

  /** Resolves when the next task leaves the window (check {@link full} again then). */
  slotFreed(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#slotFreed = () => {
        this.#slotFreed = undefined;
        resolve();
      };
    });
  }

  /** Resolves once every task added so far has settled. */
  async drain(): Promise<void> {
    await Promise.all(this.#tasks);
  }
}
