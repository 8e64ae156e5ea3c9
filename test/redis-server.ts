/**
 * A real `redis-server` for tests: started on 127.0.0.1 on a free port, without
 * persistence, and stopped after. Tests that need it are skipped, with a message,
 * only on a developer machine without redis-server; in CI (`CI` set, as `.ci/run`
 * does after installing it) a missing binary is an error.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer, Socket } from 'node:net';

/** How long redis-server gets to answer PING after it was started. */
const START_TIMEOUT_MS = 10_000;

let availability: boolean | undefined;

/**
 * Whether tests can run redis-server here. False (and a warning) on a machine without
 * it; throws in CI, where `.ci/run` installs it.
 */
export function hasRedisServer(): boolean {
  if (availability !== undefined) return availability;
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  availability = probe.status === 0;
  if (!availability) {
    const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== '0';
    if (inCi) {
      throw new Error('redis-server is not installed, and CI must run the Redis tests (.ci/run)');
    }
    console.warn(
      'skipping the shared-budget tests: redis-server is not installed ' +
        '(apt-get install redis-server, or set CI=1 to make this an error)',
    );
  }
  return availability;
}

/** A port nobody listens on right now (the kernel's choice for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Send PING over a raw socket; true on `+PONG`. */
export function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.on('data', (d) => {
      reply += d.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** SIGKILL the server (a crash: clients see the connection drop). */
  kill(): Promise<void>;
  /** Start it again on the same port, empty (no persistence). */
  restart(): Promise<void>;
  /** Stop it; safe to call twice. */
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Start a redis-server on a free 127.0.0.1 port and wait until it answers PING. */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async () => {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = proc;
    let stderr = '';
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) {
        throw new Error(`redis-server exited with ${proc.exitCode}: ${stderr}`);
      }
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} did not answer PING in ${START_TIMEOUT_MS} ms`);
  };
  const kill = async () => {
    if (child === undefined) return;
    const c = child;
    child = undefined;
    c.kill('SIGKILL');
    await exited(c);
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: launch,
    stop: kill,
  };
}
