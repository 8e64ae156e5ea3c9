import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  exitCodeForSignal,
  REPEAT_WINDOW_MS,
  SignalCounter,
  watchStopSignals,
} from '../../../src/commands/signals.js';

describe('SignalCounter', () => {
  it('counts a SIGTERM repeated within a second as the same request', () => {
    const counter = new SignalCounter();
    expect(counter.hear('SIGTERM', 0)).toBe(1);
    expect(counter.hear('SIGTERM', 5)).toBe(0);
    expect(counter.hear('SIGTERM', REPEAT_WINDOW_MS - 1 + 5)).toBe(0);
    // The window runs from the last signal heard, so a burst never becomes a second.
    expect(counter.hear('SIGTERM', 3 * REPEAT_WINDOW_MS)).toBe(2);
  });

  it('counts every Ctrl-C: a person pressing it twice means it', () => {
    const counter = new SignalCounter();
    expect(counter.hear('SIGINT', 0)).toBe(1);
    expect(counter.hear('SIGINT', 10)).toBe(2);
    expect(counter.hear('SIGINT', 20)).toBe(3);
  });

  it('counts different signals close together, and remembers the first', () => {
    const counter = new SignalCounter();
    expect(counter.hear('SIGHUP', 0)).toBe(1);
    expect(counter.hear('SIGTERM', 1)).toBe(2);
    expect(counter.first).toBe('SIGHUP');
  });
});

describe('exit codes of a stopped run', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 143],
  ] as const)('%s → %i', (signal, code) => {
    expect(exitCodeForSignal(signal)).toBe(code);
  });
});

describe('watchStopSignals', () => {
  it('reports the signals that count and stops listening when asked', () => {
    const emitter = new EventEmitter();
    let now = 0;
    const heard: Array<[string, number]> = [];
    const unwatch = watchStopSignals(
      emitter,
      (signal, count) => heard.push([signal, count]),
      undefined,
      () => now,
    );
    emitter.emit('SIGHUP');
    now = 10;
    emitter.emit('SIGHUP');
    now = 2_000;
    emitter.emit('SIGINT');
    unwatch();
    emitter.emit('SIGINT');
    expect(heard).toEqual([
      ['SIGHUP', 1],
      ['SIGINT', 2],
    ]);
    expect(emitter.listenerCount('SIGINT')).toBe(0);
  });
});
