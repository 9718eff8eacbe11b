/** `udplab probe`: the local EMSGSIZE boundary and the largest round trip, on loopback. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { echoClient } from '../src/echo-client.js';
import { ErrorCodes } from '../src/errors.js';
import { probe, type ProbeEvent, type ProbeSummaryEvent } from '../src/probe.js';
import { main } from '../src/cli/main.js';
import pc from 'picocolors';
import { renderProbe } from '../src/cli/probe.js';
import { Capture, fixture, freePort, rawSocket, runCli, spawnCollect, until } from './helpers.js';

for (const c of [
  { host: '127.0.0.1', limit: 65507, family: 'IPv4' },
  { host: '::1', limit: 65527, family: 'IPv6' },
]) {
  test(`finds the exact local boundary for ${c.host}: ${c.limit} bytes`, async () => {
    const progress: ProbeEvent[] = [];
    const r = await probe({
      host: c.host,
      port: 9,
      roundTrip: false,
      onEvent: (e) => progress.push(e),
    });
    assert.equal(r.localMax, c.limit);
    assert.equal(r.limit, c.limit);
    assert.equal(r.family, c.family);
    assert.equal(r.interface, 'lo');
    assert.equal(r.roundTripMax, null);
    // The search really probed both sides of the boundary, and no more than ~17 sizes.
    const tried = progress.flatMap((e) => (e.event === 'progress' ? [e] : []));
    assert.ok(tried.some((e) => e.bytes === c.limit && e.ok));
    assert.ok(tried.some((e) => e.bytes === c.limit + 1 && !e.ok && e.detail === 'EMSGSIZE'));
    assert.ok(tried.length <= 18, `${tried.length} steps`);
  });
}

test('round trip through an echo service: the whole range comes back', async (t) => {
  const echo = await rawSocket();
  t.after(() => echo.close());
  echo.on('message', (d, r) => echo.send(d, r.port, r.address));
  const r = await probe({ host: '127.0.0.1', port: echo.address().port, timeoutMs: 500 });
  assert.deepEqual([r.echoPeer, r.localMax, r.roundTripMax], [true, 65507, 65507]);
});

test('no echo peer: the port is unreachable, the round trip is not measured', async () => {
  const port = await freePort();
  const started = Date.now();
  const r = await probe({ host: '127.0.0.1', port, timeoutMs: 2000 });
  assert.deepEqual([r.echoPeer, r.roundTripMax, r.localMax], [false, null, 65507]);
  assert.ok(Date.now() - started < 1500, 'ICMP port unreachable answers at once, no timeout');
});

test(
  'an echo peer that cuts datagrams to 4,096 bytes (Python recvfrom(4096)): round trip 4,096',
  {
    skip: spawnSync('python3', ['--version']).status !== 0 ? 'python3 is not installed' : false,
  },
  async (t) => {
    const py = spawnCollect('python3', ['-u', fixture('truncating_echo.py'), '127.0.0.1', '0']);
    t.after(() => py.child.kill());
    const m = await py.waitFor(/Listening at \S+ (\d+)/);
    const r = await runCli(['probe', '127.0.0.1', m[1] ?? '0', '--timeout', '0.5', '--json']);
    assert.equal(r.code, 0, r.stderr.text);
    const ev = r.stdout.events();
    const summary = ev.find((e) => e.event === 'summary');
    assert.deepEqual(
      summary && [summary.localMax, summary.echoPeer, summary.roundTripMax, summary.interface],
      [65507, true, 4096, 'lo'],
    );
    assert.ok(
      ev.some((e) => e.event === 'progress' && e.detail === 'echoed 4096 of 4097 bytes'),
      'the boundary is pinned by a cut echo',
    );
  },
);

test('round trip through udplab echo-client (probe --bind as the echo client’s server)', async () => {
  const probePort = await freePort();
  let reportPort!: (p: number) => void;
  const echoPort = new Promise<number>((r) => (reportPort = r));
  const echoing = echoClient({
    host: '127.0.0.1',
    port: probePort,
    idleMs: 500,
    helloIntervalMs: 50,
    onEvent: (e) => {
      if (e.event === 'bound') reportPort(e.port);
    },
  });
  const r = await runCli([
    'probe',
    '127.0.0.1',
    String(await echoPort),
    '--bind',
    `127.0.0.1:${probePort}`,
  ]);
  assert.equal(r.code, 0, r.stderr.text);
  assert.match(
    r.stdout.text,
    /Largest datagram the local stack accepts for 127\.0\.0\.1: 65,507 bytes/,
  );
  assert.match(
    r.stdout.text,
    /Largest datagram that made the round trip through 127\.0\.0\.1:\d+: 65,507 bytes/,
  );
  assert.match(
    r.stdout.text,
    /Path: interface lo, MTU 65,536 bytes — a 65,507-byte datagram travels as one IP packet/,
  );
  assert.match(r.stdout.text, /local stack: 65,508 bytes failed \(EMSGSIZE\)/);
  // The round-trip probes came from the echo client's server address, so it echoed them.
  const e = await echoing;
  assert.ok(e.datagrams >= 2, `${e.datagrams} echoed`);
});

test('--bind on a port in use fails at once with the bind error, before anything is sent', async (t) => {
  const holder = await rawSocket();
  t.after(() => holder.close());
  const target = await rawSocket();
  t.after(() => target.close());
  const got: number[] = [];
  target.on('message', (m) => got.push(m.length));
  const taken = `127.0.0.1:${holder.address().port}`;
  for (const extra of [[], ['--local-only']]) {
    const r = await runCli([
      'probe',
      '127.0.0.1',
      String(target.address().port),
      '--bind',
      taken,
      ...extra,
    ]);
    assert.equal(r.code, 1, r.stdout.text + r.stderr.text);
    assert.match(r.stderr.text, new RegExp(`cannot bind ${taken}: the port is already in use`));
    assert.doesNotMatch(r.stdout.text, /local stack:/, 'no size was tried');
  }
  await assert.rejects(
    probe({ host: '127.0.0.1', port: target.address().port, bind: taken }),
    (err: unknown) => (err as { code?: string }).code === ErrorCodes.BIND,
  );
  // Loopback delivers within the send; a few ms more let any 'message' event through.
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(got, [], 'the target received nothing');
});

test('probe usage errors exit 2; a host that does not resolve exits 1', async () => {
  assert.equal((await runCli(['probe', '127.0.0.1', '0'])).code, 2);
  assert.equal((await runCli(['probe', '127.0.0.1', '9', '--attempts', '0'])).code, 2);
  await assert.rejects(probe({ host: '127.0.0.1', port: 9, timeoutMs: 0 }), RangeError);
  const mixed = await runCli(['probe', '127.0.0.1', '9', '--bind', '[::1]:0']);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr.text, /not of 127\.0\.0\.1's IP version/);
  const bad = await runCli(['probe', 'no-such-host.invalid', '9', '--local-only']);
  assert.equal(bad.code, 1);
});

test('the summary names a learned or route MTU as the path’s, and the interface’s own MTU', () => {
  const summary: ProbeSummaryEvent = {
    event: 'summary',
    time: '2026-01-01T00:00:00.000Z',
    to: { address: '10.98.1.1', port: 6000 },
    family: 'IPv4',
    limit: 65507,
    localMax: 65507,
    echoPeer: false,
    roundTripMax: null,
    interface: 'vC',
    mtu: 1000,
    source: 'learned',
    interfaceMtu: 1500,
    expiresSec: 598,
    fragments: 68,
    fragmentBytes: 976,
  };
  const noColors = pc.createColors(false);
  const render = (e: ProbeSummaryEvent): string => renderProbe(e, noColors) ?? '';
  const learned = render(summary);
  assert.match(
    learned,
    /^Path MTU to 10\.98\.1\.1: 1,000 bytes, learned by path MTU discovery .* for 598 s more \(`ip route get`\); interface vC, its own MTU 1,500 bytes — a 65,507-byte datagram leaves as 68 IP fragments of at most 976 bytes$/m,
  );
  assert.doesNotMatch(learned, /interface vC, MTU 1,000/, 'the trial’s wording');
  const route = render({ ...summary, source: 'route', expiresSec: null });
  assert.match(
    route,
    /^Path MTU to 10\.98\.1\.1: 1,000 bytes, the route’s `mtu` attribute \(`ip route get`\); interface vC, its own MTU 1,500 bytes — /m,
  );
  const own = render({
    ...summary,
    mtu: 1500,
    source: 'interface',
    expiresSec: null,
    fragments: 45,
    fragmentBytes: 1480,
  });
  assert.match(
    own,
    /^Path: interface vC, MTU 1,500 bytes — a 65,507-byte datagram leaves as 45 IP fragments/m,
  );
});

test('on a terminal the progress is one line on stderr, rewritten in place', async () => {
  const stdout = new Capture();
  const stderr = new Capture();
  stderr.isTTY = true;
  const code = await main(['probe', '::1', '9', '--local-only'], { stdout, stderr, env: {} });
  assert.equal(code, 0);
  const clear = '\r\x1b[K';
  assert.ok(stderr.text.startsWith(`${clear}local stack: 65,535 bytes failed (EMSGSIZE)`));
  assert.ok(stderr.text.endsWith(clear), 'the progress line is cleared at the end');
  assert.doesNotMatch(stdout.text, /local stack:/);
  assert.match(stdout.text, /accepts for ::1: 65,527 bytes \(the UDP limit over IPv6 is 65,527\)/);
});

test('--local-only still sends the sizes the kernel accepts to HOST:PORT, as its help says', async (t) => {
  const target = await rawSocket();
  t.after(() => target.close());
  const got: number[] = [];
  target.on('message', (m) => got.push(m.length));
  const r = await runCli(['probe', '127.0.0.1', String(target.address().port), '--local-only']);
  assert.equal(r.code, 0, r.stderr.text);
  const searched = [...r.stdout.text.matchAll(/local stack: ([\d,]+) bytes ok/g)].map((m) =>
    Number(m[1]?.replace(/,/g, '')),
  );
  // 1: the first send, which checks that HOST can be sent to at all.
  const accepted = [1, ...searched];
  assert.ok(accepted.length >= 10, `${accepted.length} sizes accepted`);
  // The receive buffer (about 208 kB by default) may drop some of ~720 kB; what arrives is the probes.
  await until(() => (got.length > 0 ? true : undefined));
  assert.ok(
    got.every((bytes) => accepted.includes(bytes)),
    `received ${got.join(', ')}`,
  );
  const help = await runCli(['probe', '--help']);
  assert.match(help.stdout.text, /--local-only .*still go to HOST:PORT/s);
});
