/**
 * A destination the local stack cannot reach (no route, or a link-local address without a zone):
 * connect(2) fails at once, and every command says so in one line (UDPLAB_ERR_SEND, exit 1); the
 * proxy reports it per client and goes on. Run inside a network namespace that has only `lo`, so
 * nothing can leave whatever the code does; needs root (skipped with the reason otherwise).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { netnsUnavailable } from './netns.js';

const why = netnsUnavailable();
if (why) console.log(`# skipping the no-route tests: ${why}`);

const BIN = fileURLToPath(new URL('../src/bin.js', import.meta.url));
const NS = `udplab-noroute-${process.pid}`;
/** An address with no route inside the namespace (which has only `lo`). */
const NOWHERE = '10.231.250.1';

function udplab(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, BIN, ...args], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('a destination with no route', { skip: why ?? false }, () => {
  before(() => {
    spawnSync('ip', ['netns', 'add', NS]);
    spawnSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  });
  after(() => spawnSync('ip', ['netns', 'del', NS]));

  test('client, echo-client, spoof and bench: "cannot connect … no route", exit 1, no stack trace', () => {
    for (const args of [
      ['client', NOWHERE, '1060', '--attempts', '1'],
      ['client', NOWHERE, '1060', '--id', '--attempts', '1'],
      ['echo-client', NOWHERE, '1060', '--idle', '1'],
      ['spoof', NOWHERE, '1060'],
      ['bench', NOWHERE, '1060', '-d', '1'],
    ]) {
      const r = udplab(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /^udplab: error: cannot connect to 10\.231\.250\.1:1060: no route to that network \(ENETUNREACH\)\n$/,
        args.join(' '),
      );
    }
    const json = udplab(['client', NOWHERE, '1060', '--json', '--attempts', '1']);
    assert.equal(json.code, 1);
    const last = JSON.parse(json.stdout.trim().split('\n').at(-1) ?? '{}') as Record<
      string,
      unknown
    >;
    assert.deepEqual([last.event, last.code], ['error', 'UDPLAB_ERR_SEND']);
  });

  test('a link-local server without a zone: the hint names the zone', () => {
    const r = udplab(['client', 'fe80::1', '1060', '--attempts', '1']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /cannot connect to \[fe80::1\]:1060: .*needs a zone naming the interface/,
    );
  });

  test('proxy: each client’s datagrams are send-failed with an error event; it keeps running', async () => {
    const proxy = spawn(
      'ip',
      [
        'netns',
        'exec',
        NS,
        process.execPath,
        BIN,
        'proxy',
        '-l',
        '127.0.0.1:9100',
        '-t',
        `${NOWHERE}:1060`,
        '--json',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    proxy.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proxy.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => proxy.on('exit', resolve));
    for (let i = 0; i < 50 && !out.includes('"listening"'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    // Two clients, one after the other: both fail the same way, and the proxy is still there.
    // The first sends 3 datagrams within 0.3 s: one error (its next datagrams fail at once for a
    // second); the second sends 2, 1.1 s apart: an error for each (tried again after a second).
    for (const [attempts, timeout] of [
      ['3', '0.1'],
      ['2', '1.1'],
    ] as const) {
      const c = udplab([
        'client',
        '127.0.0.1',
        '9100',
        '--attempts',
        attempts,
        '--timeout',
        timeout,
        '--max-delay',
        '3',
      ]);
      assert.equal(c.code, 1, c.stderr);
    }
    proxy.kill('SIGINT');
    assert.equal(await exited, 0, err);
    assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const errors = events.filter((e) => e.event === 'error');
    assert.equal(errors.length, 3, out);
    for (const e of errors) {
      assert.equal(e.code, 'ENETUNREACH');
      assert.match(
        String(e.message),
        /cannot connect to 10\.231\.250\.1:1060: no route to that network; its datagrams fail for 1 s, then it is tried again$/,
      );
    }
    assert.equal(events.filter((e) => e.event === 'send-failed').length, 5, out);
    const summary = events.find((e) => e.event === 'summary') as
      { up: { received: number; forwarded: number; sendFailed: number } } | undefined;
    assert.deepEqual(
      [summary?.up.received, summary?.up.forwarded, summary?.up.sendFailed],
      [5, 0, 5],
      out,
    );
  });
});
