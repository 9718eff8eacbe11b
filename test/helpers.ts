/**
 * Shared test helpers: run the CLI in-process with captured streams, spawn the built CLI or a
 * Python fixture as a real process, and wait for a line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';

/** The repository root (tests run from build/test). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** The built CLI entry point. */
export const binPath = fileURLToPath(new URL('../src/bin.js', import.meta.url));
/** A Python fixture under test/fixtures. */
export const fixture = (name: string): string => `${repoRoot}test/fixtures/${name}`;

/** A text sink that keeps what was written. */
export class Capture {
  text = '';
  isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  /** The JSON events written so far (for --json runs). */
  events(): Record<string, unknown>[] {
    return jsonEvents(this.text);
  }
}

/** The JSON event lines of a --json run's output, parsed. */
export function jsonEvents(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Polls until `probe` returns a value (every 5 ms, up to `timeoutMs`). */
export async function until<T>(probe: () => T | undefined, timeoutMs = 3000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Runs `main(argv)` in-process. Returns the exit code and what was printed. */
export async function runCli(
  argv: string[],
  options: {
    signal?: AbortSignal;
    env?: Record<string, string>;
    stdout?: Capture;
    stderr?: Capture;
  } = {},
): Promise<{ code: number; stdout: Capture; stderr: Capture }> {
  const stdout = options.stdout ?? new Capture();
  const stderr = options.stderr ?? new Capture();
  const code = await main(argv, {
    stdout,
    stderr,
    env: options.env ?? {},
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { code, stdout, stderr };
}

/** Replaces what differs from run to run (times, ports, RTTs) in human or JSON output. */
export function normaliseRun(text: string): string {
  return text
    .replace(/"time":"[^"]+"/g, '"time":"T"')
    .replace(/\d{4}-\d\d-\d\d[ T][\d:.]+Z?/g, 'DATE')
    .replace(/:\d{2,5}\b/g, ':PORT')
    .replace(/"port":\d+/g, '"port":P')
    .replace(/"rtt\w*Ms":[\d.e-]+/g, '"rttMs":R')
    .replace(/rtt min\/avg\/max\/mdev = [\d./]+ ms, p50 [\d.]+ ms, p99 [\d.]+ ms/g, 'rtt R')
    .replace(/rtt [\d.]+ ms/g, 'rtt R ms')
    .replace(/\b\d{1,20}; /g, 'ID; ')
    .replace(/"id":"\d+"/g, '"id":"ID"')
    .replace(/request ID \d+/g, 'request ID ID')
    .replace(/\b\d+ bytes/g, 'N bytes') // a random ID has 1 to 20 digits
    .replace(/"bytes":\d+/g, '"bytes":N');
}

/** A spawned process with its output collected. */
export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The JSON events on stdout so far (for --json runs). */
  events: () => Record<string, unknown>[];
  /** Resolves with the first stdout line matching `re` (rejects after `timeoutMs`). */
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Spawns a command and collects its output. Kill it by PID in `t.after`. */
export function spawnCollect(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Spawned {
  const child = spawn(cmd, args, {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => resolve(code)),
  );
  const waitFor = (re: RegExp, timeoutMs = 5000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${re} in: ${out} ${err}`)),
        timeoutMs,
      );
      const check = (): void => {
        const m = re.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        } else waiters.push(check);
      };
      check();
    });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    events: () => jsonEvents(out),
    waitFor,
    exited,
  };
}

/** Spawns the built udplab CLI. */
export function spawnUdplab(args: string[], env: Record<string, string> = {}): Spawned {
  return spawnCollect(process.execPath, [binPath, ...args], env);
}

/** A raw dgram socket bound to loopback, port 0 (the scripted peer of STYLE.md). */
export async function rawSocket(type: 'udp4' | 'udp6' = 'udp4'): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', r));
  return s;
}

/** The next datagram a socket receives. */
export function nextMessage(
  s: dgram.Socket,
  timeoutMs = 2000,
): Promise<{ data: Buffer; rinfo: dgram.RemoteInfo }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      s.off('message', on);
      reject(new Error('no datagram'));
    }, timeoutMs);
    const on = (data: Buffer, rinfo: dgram.RemoteInfo): void => {
      clearTimeout(timer);
      resolve({ data, rinfo });
    };
    s.once('message', on);
  });
}

/** A free UDP port on 127.0.0.1 (bound then released: only for "nothing listens here" tests). */
export async function freePort(): Promise<number> {
  const s = await rawSocket();
  const port = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return port;
}
