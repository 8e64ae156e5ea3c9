import { defineConfig } from 'vitest/config';

/**
 * Two projects, one per layer of the test pyramid:
 * - unit: the pieces of src/ one by one (test/unit mirrors src/) and in-process
 *   scenarios that call runUpdate against the mock server (test/scenario);
 * - e2e: the built CLI as a child process (exit codes, signals, stdout/stderr, package).
 * `npm test` runs both; `npm run test:unit` / `npm run test:e2e` one of them.
 */
export default defineConfig({
  test: {
    // End-to-end tests spawn the built CLI and a local HTTP server; give them room on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Most test time is waiting (child processes, servers, timers), not CPU: with the
    // default of one worker per core less one, a 2-core machine ran the files one after
    // another (330 s). Three at a time overlap the waiting: about half the wall time.
    maxWorkers: 3,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/scenario/**/*.test.ts'] },
      },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
    ],
  },
});
