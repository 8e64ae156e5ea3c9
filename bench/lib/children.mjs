/**
 * Child processes of the benchmark: every one is tracked, bounded by a deadline, and
 * killed (by its own pid) when the benchmark exits, fails or is interrupted.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Time a child gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 3_000;
/** Output kept per stream; a chatty child must not fill the benchmark's memory. */
const MAX_CAPTURE_CHARS = 1024 * 1024;

const live = new Set();

/** Kill every child still running (SIGKILL: used on the way out). */
export function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

let hooked = false;
/** Make sure no child outlives the benchmark, however it ends. */
export function killChildrenOnExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children\n`);
      killAll();
      process.exit(130);
    });
  }
}

function capture(stream, sink) {
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    if (sink.text.length < MAX_CAPTURE_CHARS) sink.text += chunk;
  });
}

/**
 * Run a command to its end. Resolves with exit code, output and wall time (spawn to
 * exit); a child still running after `timeoutMs` is killed and the result says so.
 *
 * @param {string} command
 * @param {string[]} args
 * @param {{ timeoutMs: number, env?: Record<string, string>, cwd?: string }} options
 */
export function run(command, args, options) {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    const stdout = { text: '' };
    const stderr = { text: '' };
    capture(child.stdout, stdout);
    capture(child.stderr, stderr);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref();
    }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      live.delete(child);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({
        code,
        signal,
        timedOut,
        wallMs: performance.now() - startedAt,
        stdout: stdout.text,
        stderr: stderr.text,
      });
    });
  });
}

/**
 * Start a long-running child and wait for a stdout line matching `ready`. Returns the
 * match and `stop()`, which ends the child (SIGTERM, then SIGKILL) and waits for it.
 *
 * @param {string} command
 * @param {string[]} args
 * @param {{ ready: RegExp, readyTimeoutMs: number }} options
 */
export function startService(command, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    const exited = new Promise((done) => child.once('close', done));
    exited.then(() => live.delete(child));
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      await exited;
      clearTimeout(timer);
    };
    let seen = '';
    let errText = '';
    const fail = (message) => {
      clearTimeout(timer);
      stop().finally(() => reject(new Error(`${message}\n${seen}${errText}`.trim())));
    };
    const timer = setTimeout(
      () => fail(`${command} ${args.join(' ')}: not ready after ${options.readyTimeoutMs} ms`),
      options.readyTimeoutMs,
    );
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      if (errText.length < 10_000) errText += chunk;
    });
    child.stdout.setEncoding('utf8');
    const onData = (chunk) => {
      if (seen.length < 10_000) seen += chunk;
      const match = options.ready.exec(seen);
      if (match === null) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stdout.resume(); // keep draining so the child never blocks on a full pipe
      resolve({ pid: child.pid, match, stop });
    };
    child.stdout.on('data', onData);
    child.once('error', (err) => fail(err.message));
    exited.then((code) => {
      if (seen === '' || options.ready.exec(seen) === null) fail(`exited with ${code}`);
    });
  });
}
