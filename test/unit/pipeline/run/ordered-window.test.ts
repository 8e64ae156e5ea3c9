import { describe, expect, it } from 'vitest';
import { OrderedWindow } from '../../../../src/pipeline/run/ordered-window.js';

/** A task the test finishes by hand; `started` tells whether the window ran it. */
function manualTask() {
  let finish: (err?: Error) => void = () => {};
  const task = {
    started: false,
    run: () => {
      task.started = true;
      return new Promise<void>((resolve, reject) => {
        finish = (err) => (err === undefined ? resolve() : reject(err));
      });
    },
    finish: (err?: Error) => finish(err),
  };
  return task;
}

/** Let every promise callback that can run, run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('OrderedWindow', () => {
  it('runs tasks with the same key one after another, in the order added', async () => {
    const window = new OrderedWindow(8, () => {});
    const [a1, b, a2, a3] = [manualTask(), manualTask(), manualTask(), manualTask()];
    window.add('A', a1.run);
    window.add('B', b.run);
    window.add('A', a2.run);
    window.add('A', a3.run);
    await settle();
    expect([a1.started, b.started, a2.started, a3.started]).toEqual([true, true, false, false]);
    a1.finish();
    await settle();
    expect([a2.started, a3.started]).toEqual([true, false]);
    a2.finish(new Error('a failed row still lets the next one go'));
    await settle();
    expect(a3.started).toBe(true);
    a3.finish();
    b.finish();
    await window.drain();
    expect(window.count).toBe(0);
  });

  it('is full at its size, counting tasks that wait for their key, and frees a slot as one ends', async () => {
    const window = new OrderedWindow(3, () => {});
    const [a1, a2, b] = [manualTask(), manualTask(), manualTask()];
    window.add('A', a1.run);
    window.add('A', a2.run); // waits behind the first A
    expect(window.full).toBe(false);
    window.add('B', b.run);
    expect(window.full).toBe(true);
    let freed = false;
    const waiting = window.slotFreed().then(() => {
      freed = true;
    });
    await settle();
    expect(freed).toBe(false);
    b.finish();
    await waiting;
    expect(window.full).toBe(false);
    expect(window.count).toBe(2);
    a1.finish();
    await settle();
    a2.finish();
    await window.drain();
    expect(window.count).toBe(0);
  });

  it('starts no more than its size at once however many keys there are', async () => {
    const window = new OrderedWindow(2, () => {});
    const tasks = Array.from({ length: 5 }, manualTask);
    for (const [i, t] of tasks.entries()) window.add(`k${i}`, t.run);
    await settle();
    expect(tasks.map((t) => t.started)).toEqual([true, true, false, false, false]);
    tasks[1]?.finish();
    await settle();
    expect(tasks.map((t) => t.started)).toEqual([true, true, true, false, false]);
    for (const t of tasks) {
      await settle();
      t.finish();
    }
    await window.drain();
  });

  it('hands a task error to onError and goes on; drain waits for every task', async () => {
    const errors: unknown[] = [];
    const window = new OrderedWindow(4, (err) => errors.push(err));
    const boom = new Error('boom');
    const [a, b] = [manualTask(), manualTask()];
    window.add('A', a.run);
    window.add('B', b.run);
    let drained = false;
    const draining = window.drain().then(() => {
      drained = true;
    });
    await settle();
    a.finish(boom);
    await settle();
    expect(errors).toEqual([boom]);
    expect(drained).toBe(false);
    b.finish();
    await draining;
    expect(drained).toBe(true);
  });
});
