/**
 * What happens to a write (PUT, POST, batch POST) instead of normal handling: the next
 * matching scripted step, else a random fault drawn from a seeded PRNG, else nothing.
 */
import { createPrng } from './prng.js';
import type { FaultOptions, ScriptStep, WriteRoute } from './types.js';

/** A ready-to-send answer: body already serialised, header names lower-case. */
export interface CannedAnswer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export type Disruption =
  | { kind: 'answer'; answer: CannedAnswer }
  | { kind: 'server-error'; status: 500 | 502 | 503 }
  | { kind: 'reset' }
  | { kind: 'hang' }
  | { kind: 'lost-response' }
  | { kind: 'lost-response-500' };

/** The write a disruption is drawn for. */
export type WriteTarget = { route: 'update'; id: string } | { route: 'create' | 'batch' };

interface PendingStep {
  id: string | undefined;
  route: WriteRoute | undefined;
  remaining: number;
  disruption: Disruption;
}

const SERVER_ERROR_STATUSES = [500, 502, 503] as const;
const RESET: Disruption = { kind: 'reset' };
const HANG: Disruption = { kind: 'hang' };
const LOST_RESPONSE: Disruption = { kind: 'lost-response' };
const LOST_RESPONSE_500: Disruption = { kind: 'lost-response-500' };

export class Faults {
  #steps: PendingStep[] = [];
  #serverErrorRate = 0;
  #resetRate = 0;
  #hangRate = 0;
  #lostResponseRate = 0;
  #lostResponse500Rate = 0;
  #anyRate = false;
  readonly #random: () => number;

  constructor(seed: number) {
    this.#random = createPrng(seed);
  }

  /** Replace the script (the caller's array is not consumed). */
  setScript(steps: readonly ScriptStep[]): void {
    this.#steps = steps.map((step) => ({
      id: step.id,
      route: step.id === undefined ? step.route : 'update',
      remaining: step.times ?? 1,
      disruption: toDisruption(step.respond),
    }));
  }

  setRates(faults: FaultOptions): void {
    this.#serverErrorRate = faults.serverErrorRate ?? 0;
    this.#resetRate = faults.resetRate ?? 0;
    this.#hangRate = faults.hangRate ?? 0;
    this.#lostResponseRate = faults.lostResponseRate ?? 0;
    this.#lostResponse500Rate = faults.lostResponse500Rate ?? 0;
    this.#anyRate =
      this.#serverErrorRate +
        this.#resetRate +
        this.#hangRate +
        this.#lostResponseRate +
        this.#lostResponse500Rate >
      0;
  }

  /** The disruption for the next write, or undefined for normal handling. */
  next(target: WriteTarget): Disruption | undefined {
    if (this.#steps.length > 0) {
      const id = target.route === 'update' ? target.id : undefined;
      const index = this.#steps.findIndex(
        (step) =>
          (step.route === undefined || step.route === target.route) &&
          (step.id === undefined || step.id === id),
      );
      const step = this.#steps[index];
      if (step !== undefined) {
        step.remaining--;
        if (step.remaining <= 0) this.#steps.splice(index, 1);
        return step.disruption;
      }
    }
    if (!this.#anyRate) return undefined;
    // One draw against cumulative thresholds, so each rate is exact and the faults are
    // mutually exclusive.
    let r = this.#random();
    if (r < this.#serverErrorRate) {
      const which = Math.floor(this.#random() * SERVER_ERROR_STATUSES.length);
      return { kind: 'server-error', status: SERVER_ERROR_STATUSES[which] ?? 500 };
    }
    r -= this.#serverErrorRate;
    if (r < this.#resetRate) return RESET;
    r -= this.#resetRate;
    if (r < this.#hangRate) return HANG;
    r -= this.#hangRate;
    if (r < this.#lostResponseRate) return LOST_RESPONSE;
    r -= this.#lostResponseRate;
    if (r < this.#lostResponse500Rate) return LOST_RESPONSE_500;
    return undefined;
  }
}

function toDisruption(respond: ScriptStep['respond']): Disruption {
  if (respond === 'reset') return RESET;
  if (respond === 'hang') return HANG;
  if (respond === 'lost-response') return LOST_RESPONSE;
  if (respond === 'lost-response-500') return LOST_RESPONSE_500;
  return { kind: 'answer', answer: cannedAnswer(respond.status, respond.body, respond.headers) };
}

/** Serialise a scripted answer once: objects as JSON, strings as raw text (HTML when it looks like it). */
export function cannedAnswer(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): CannedAnswer {
  let text = '';
  let contentType: string | undefined;
  if (typeof body === 'string') {
    text = body;
    contentType = body.trimStart().startsWith('<')
      ? 'text/html; charset=utf-8'
      : 'text/plain; charset=utf-8';
  } else if (body !== undefined) {
    text = JSON.stringify(body);
    contentType = 'application/json; charset=utf-8';
  }
  const lowerCased: Record<string, string> = {};
  if (contentType !== undefined) lowerCased['content-type'] = contentType;
  // The script's own headers win, whatever their case.
  for (const [name, value] of Object.entries(headers)) lowerCased[name.toLowerCase()] = value;
  return { status, body: text, headers: lowerCased };
}
