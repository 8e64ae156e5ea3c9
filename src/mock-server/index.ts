/** The built-in fake Clerk Chat contacts API: public surface. */
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
