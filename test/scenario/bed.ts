/**
 * Scenario tests call runUpdate in-process against a real mock server on 127.0.0.1,
 * port 0, fresh for each test (like got's `withServer`): real HTTP and real files,
 * without the cost of a child process per run. What needs the real CLI (exit codes as
 * a process, signals, stdout/stderr) stays in test/e2e.
 */
import { dirname, join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { exitCodeFor } from '../../src/commands/update.js';
import type { MockServer, MockServerOptions } from '../../src/mock-server/index.js';
import { startMockServer } from '../../src/mock-server/index.js';
import type { RecordedRequest } from '../../src/mock-server/types.js';
import { runUpdate } from '../../src/pipeline/run/run-update.js';
import type { RunSummary, UpdateOptions } from '../../src/pipeline/run/types.js';
import { type ResultRow, readResults, tempDir } from '../helpers.js';

export interface ScenarioRun {
  summary: RunSummary;
  /** The exit code the CLI would give this summary (SPEC §7). */
  exitCode: number;
  /** Every `warn` event, in order. */
  warnings: string[];
}

/**
 * A mock server taking `apiKey` started before each test of the calling file and closed
 * after it, a fresh temp folder per test, and `run` for runUpdate against them.
 */
export function scenarioBed(apiKey: string, options: MockServerOptions = {}) {
  let server: MockServer | undefined;
  let dir = '';
  beforeEach(async () => {
    server = await startMockServer({ apiKey, ...options });
    dir = tempDir();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const bed = {
    get server(): MockServer {
      if (server === undefined) throw new Error('the mock server starts before each test');
      return server;
    },
    /** Restart the server with other options (a test that needs a fresh one). */
    async restart(more: MockServerOptions): Promise<MockServer> {
      await server?.close();
      server = await startMockServer({ apiKey, ...options, ...more });
      return server;
    },
    get dir(): string {
      return dir;
    },
    puts: (): RecordedRequest[] => bed.server.requests.filter((r) => r.method === 'PUT'),
    putsFor: (id: string): RecordedRequest[] => bed.puts().filter((r) => r.id === id),
    /** The results file next to `input`. */
    outFor: (input: string): string => join(dirname(input), 'out.csv'),
    resultsOf: (input: string): ResultRow[] => readResults(bed.outFor(input)),
    /**
     * runUpdate of `input` into `out.csv` beside it, against the server, with fast
     * retries (20 ms base) unless `more` says otherwise.
     */
    async run(input: string, more: Partial<UpdateOptions> = {}): Promise<ScenarioRun> {
      const warnings: string[] = [];
      const summary = await runUpdate({
        input,
        out: bed.outFor(input),
        apiKey,
        baseUrl: bed.server.url,
        retryBaseDelayMs: 20,
        ...more,
        events: { warn: (m) => warnings.push(m), ...more.events },
      });
      return { summary, exitCode: exitCodeFor(summary), warnings };
    },
  };
  return bed;
}
