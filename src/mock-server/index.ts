/**
 * mock-server/: the built-in fake Clerk Chat contacts API, faithful to the documented
 * endpoints (PUT, POST, POST batch; NestJS-style errors), with seeded faults (5xx,
 * latency, resets, lost answers, scripted steps), a token-bucket rate limit that can
 * change mid-run, and request records for tests. server.ts serves, route.ts routes,
 * validate-body.ts checks bodies, contacts-store.ts holds contacts, command.ts is the
 * `mock-server` command. This file is its public surface.
 */
export {
  type MockServerCommandOptions,
  parseLatencySpec,
  parseRateLimitChange,
  runMockServerCommand,
} from './command.js';
export { IdRange, parseIdsSpec } from './ids-spec.js';
export { startMockServer } from './server.js';
export type {
  Contact,
  DuplicatePhone,
  FaultOptions,
  MockServer,
  MockServerOptions,
  MockServerSettings,
  MockServerStats,
  RateLimitChange,
  RateLimitOptions,
  RecordedRequest,
  RetryAfterStyle,
  ScriptedResponse,
  ScriptStep,
  WriteRoute,
} from './types.js';
