/**
 * Bottleneck 2.19.5's Redis datastore recognises two error replies of its Lua scripts
 * by exact message: `SETTINGS_KEY_NOT_FOUND` (the limiter's keys are gone: Redis was
 * restarted without persistence, flushed, or evicted them) and `UNKNOWN_CLIENT` (this
 * process was dropped as unresponsive after `clientTimeout`, e.g. a stalled event
 * loop). On either it re-creates the keys or re-registers, then retries.
 *
 * Redis 7 prefixes a script's `redis.error_reply('X')` with the generic code: the
 * client receives `ERR SETTINGS_KEY_NOT_FOUND`. The comparison then fails and every
 * later call of the limiter rejects, for good (measured with Debian's redis-server
 * 7.0.15: after a FLUSHALL, each `schedule` rejected with "ERR SETTINGS_KEY_NOT_FOUND"
 * and no key was ever re-created). `OVERWEIGHT:` (matched with `indexOf === 0`) has
 * the same problem. Bottleneck is unmaintained (bottleneck #205, #212, #219; the fix
 * in PR #215 was never released), so the reply is mended here, on the way in, rather
 * than by patching node_modules: this also holds when clerk-bulk is a dependency of
 * someone else's project.
 */
import { Redis } from 'ioredis';

/** `ERR ` + one of the codes Bottleneck compares by exact text or prefix. */
const PREFIXED_BOTTLENECK_CODE = /^ERR ((?:SETTINGS_KEY_NOT_FOUND|UNKNOWN_CLIENT)$|OVERWEIGHT:)/;

/**
 * Give an error reply of a Bottleneck script the message Bottleneck expects
 * (`ERR SETTINGS_KEY_NOT_FOUND` → `SETTINGS_KEY_NOT_FOUND`); anything else is returned
 * as it is. Redis 6 replies are already in that form and pass unchanged.
 */
export function mendScriptError<E>(err: E): E {
  if (err instanceof Error && PREFIXED_BOTTLENECK_CODE.test(err.message)) {
    err.message = err.message.slice('ERR '.length);
  }
  return err;
}

type Callback = (err: unknown, reply?: unknown) => void;

/**
 * An ioredis client for Bottleneck's `IORedisConnection`: every script Bottleneck
 * defines (`defineCommand`) gets its error replies mended by {@link mendScriptError}.
 * Bottleneck calls those scripts with a callback as the last argument.
 */
export class BottleneckRedis extends Redis {
  override defineCommand(
    name: string,
    definition: { lua: string; numberOfKeys?: number; readOnly?: boolean },
  ): void {
    super.defineCommand(name, definition);
    const methods = this as unknown as Record<string, (...args: unknown[]) => unknown>;
    const original = methods[name];
    if (original === undefined) return;
    methods[name] = (...args: unknown[]) => {
      const last = args.at(-1);
      if (typeof last === 'function') {
        const callback = last as Callback;
        args[args.length - 1] = (err: unknown, reply?: unknown) =>
          callback(err == null ? err : mendScriptError(err), reply);
      }
      return original.apply(this, args);
    };
  }
}
