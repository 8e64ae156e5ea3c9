import { describe, expect, it } from 'vitest';
import type { SendResult } from '../../../../src/pipeline/send/client.js';
import {
  formatSeconds,
  OUTAGE_FIRST_PAUSE_MS,
  OUTAGE_GIVE_UP_MS,
  OUTAGE_MAX_PAUSE_MS,
  OUTAGE_THRESHOLD,
  OutageMonitor,
} from '../../../../src/pipeline/send/outage.js';

/** A clock the test moves by hand. */
function manualClock(startMs = 1_000_000) {
  let t = startMs;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const down: SendResult = {
  kind: 'http-error',
  status: 503,
  message: '503 down',
  retryAfterMs: undefined,
};

/** A monitor over a fake hold that records what it was asked, on a manual clock. */
function setUp(retryBaseDelayMs = 500) {
  const clock = manualClock();
  const calls: string[] = [];
  const warnings: string[] = [];
  const monitor = new OutageMonitor({
    hold: {
      probeAfter: (untilMs) => calls.push(`probeAfter +${untilMs - clock.now()}`),
      endProbe: () => calls.push('endProbe'),
    },
    retryBaseDelayMs,
    warn: (m) => warnings.push(m),
    now: clock.now,
  });
  return { clock, calls, warnings, monitor };
}

describe('OutageMonitor', () => {
  it('blames the rows until the threshold, then the API, and pauses', () => {
    const { clock, calls, warnings, monitor } = setUp();
    for (let i = 1; i < OUTAGE_THRESHOLD; i++) {
      expect(monitor.trouble(down, clock.now())).toBe(false);
    }
    expect(monitor.inOutage).toBe(false);
    expect(monitor.trouble(down, clock.now())).toBe(true);
    expect(monitor.inOutage).toBe(true);
    expect(calls).toEqual([`probeAfter +${OUTAGE_FIRST_PAUSE_MS}`]);
    expect(warnings).toEqual([
      `${OUTAGE_THRESHOLD} requests in a row failed (503 down); the API looks down: pausing 1 s, then trying one request`,
    ]);
  });

  it('any other answer in between resets the streak', () => {
    const { clock, monitor } = setUp();
    for (let i = 1; i < OUTAGE_THRESHOLD; i++) monitor.trouble(down, clock.now());
    monitor.answered();
    for (let i = 1; i < OUTAGE_THRESHOLD; i++) {
      expect(monitor.trouble(down, clock.now())).toBe(false);
    }
  });

  it('doubles the pause after each failed probe, up to the cap, ignoring requests sent before the pause ended', () => {
    const { clock, calls, monitor } = setUp();
    for (let i = 0; i < OUTAGE_THRESHOLD; i++) monitor.trouble(down, clock.now());
    // In flight when the pause began: blamed on the outage, but no new pause.
    expect(monitor.trouble(down, clock.now())).toBe(true);
    expect(calls).toHaveLength(1);
    let pauseMs = OUTAGE_FIRST_PAUSE_MS;
    for (let probe = 0; probe < 8; probe++) {
      clock.advance(pauseMs);
      expect(monitor.trouble(down, clock.now())).toBe(true);
      pauseMs = Math.min(OUTAGE_MAX_PAUSE_MS, pauseMs * 2);
      expect(calls.at(-1)).toBe(`probeAfter +${pauseMs}`);
    }
    expect(pauseMs).toBe(OUTAGE_MAX_PAUSE_MS);
  });

  it('says when the API answers again and releases the hold', () => {
    const { clock, calls, warnings, monitor } = setUp();
    for (let i = 0; i < OUTAGE_THRESHOLD; i++) monitor.trouble(down, clock.now());
    clock.advance(12_000);
    monitor.answered();
    expect(monitor.inOutage).toBe(false);
    expect(calls.at(-1)).toBe('endProbe');
    expect(warnings.at(-1)).toBe('the API answers again after 12 s; going on');
  });

  it('gives up after the give-up time and starts no new outage until the API answers', () => {
    const { clock, calls, warnings, monitor } = setUp();
    for (let i = 0; i < OUTAGE_THRESHOLD; i++) monitor.trouble(down, clock.now());
    clock.advance(OUTAGE_GIVE_UP_MS);
    // The probe that finds the API still down is the outage's, not its row's.
    expect(monitor.trouble(down, clock.now())).toBe(true);
    expect(monitor.inOutage).toBe(false);
    expect(calls.at(-1)).toBe('endProbe');
    expect(warnings.at(-1)).toBe(
      'the API has failed every request for 30 min (503 down); no more waiting: rows now fail after their retries',
    );
    for (let i = 0; i < OUTAGE_THRESHOLD * 3; i++) {
      expect(monitor.trouble(down, clock.now())).toBe(false);
    }
    monitor.answered();
    for (let i = 1; i < OUTAGE_THRESHOLD; i++) monitor.trouble(down, clock.now());
    expect(monitor.trouble(down, clock.now())).toBe(true);
  });

  it('scales pauses and the give-up time with the retry base', () => {
    const { clock, calls, monitor } = setUp(5); // a hundredth of the default 500 ms
    for (let i = 0; i < OUTAGE_THRESHOLD; i++) monitor.trouble(down, clock.now());
    expect(calls).toEqual([`probeAfter +${OUTAGE_FIRST_PAUSE_MS / 100}`]);
    clock.advance(OUTAGE_FIRST_PAUSE_MS / 100);
    monitor.trouble(down, clock.now());
    expect(calls.at(-1)).toBe(`probeAfter +${(2 * OUTAGE_FIRST_PAUSE_MS) / 100}`);
    clock.advance(OUTAGE_GIVE_UP_MS / 100);
    monitor.trouble(down, clock.now());
    expect(monitor.inOutage).toBe(false);
    expect(calls.at(-1)).toBe('endProbe');
  });
});

describe('formatSeconds', () => {
  it.each([
    [850, '850 ms'],
    [12_400, '12 s'],
    [119_000, '119 s'],
    [180_000, '3 min'],
  ])('%d ms reads %s', (ms, text) => {
    expect(formatSeconds(ms)).toBe(text);
  });
});
