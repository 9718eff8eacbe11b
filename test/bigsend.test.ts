/**
 * `udplab bigsend` on loopback with real sockets: the too-big path, the pieces, the echoes, the
 * limits of IPv4 and IPv6, uneven splits, a peer that drops one echo, and the usage errors.
 */
import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import { test } from 'node:test';
import {
  bigsend,
  type BigsendEvent,
  type BigsendOptions,
  type BigsendResult,
} from '../src/bigsend.js';
import { makePayload, splitPayload } from '../src/chunks.js';
import { explainPath } from '../src/cli/bigsend.js';
import { main } from '../src/cli/main.js';
import { echoClient } from '../src/echo-client.js';
import { Capture, rawSocket, runCli, until } from './helpers.js';

/** Starts bigsend; resolves once it listens, with its port, its events and its result. */
async function startBigsend(
  options: BigsendOptions,
): Promise<{ port: number; events: BigsendEvent[]; result: Promise<BigsendResult> }> {
  const events: BigsendEvent[] = [];
  let listening!: (port: number) => void;
  const port = new Promise<number>((r) => (listening = r));
  const result = bigsend({
    ...options,
    onEvent: (e) => {
      events.push(e);
      if (e.event === 'listening') listening(e.port);
    },
  });
  result.catch(() => undefined);
  return { port: await Promise.race([port, result.then(() => 0)]), events, result };
}

/** Runs the CLI in-process without waiting for it, so a peer can be started once it listens. */
function startCli(argv: string[]): { stdout: Capture; stderr: Capture; code: Promise<number> } {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = main(argv, { stdout, stderr, env: {} });
  return { stdout, stderr, code };
}

async function cliPort(stdout: Capture): Promise<number> {
  return until(() => {
    const e = stdout.events().find((x) => x.event === 'listening');
    return typeof e?.port === 'number' ? e.port : undefined;
  });
}

function ofKind<K extends BigsendEvent['event']>(
  events: BigsendEvent[],
  kind: K,
): Extract<BigsendEvent, { event: K }>[] {
  return events.filter((e): e is Extract<BigsendEvent, { event: K }> => e.event === kind);
}

test('IPv4, the lab: 80,000 bytes is too big; 16 × 5,000 echo back, content verified (CLI)', async () => {
  const run = startCli(['bigsend', '127.0.0.1', '0', '--json']);
  const port = await cliPort(run.stdout);
  const peer = await echoClient({ host: '127.0.0.1', port, idleMs: 3000 });
  assert.equal(await run.code, 0, run.stderr.text);
  assert.equal(peer.reason, 'done');
  assert.equal(peer.datagrams, 16);
  const ev = run.stdout.events();
  assert.deepEqual(
    ev.filter((e) => e.event === 'too-big').map((e) => [e.bytes, e.limit, e.code]),
    [[80000, 65507, 'EMSGSIZE']],
  );
  assert.equal(ev.filter((e) => e.event === 'sent-whole').length, 0);
  const sent = ev.filter((e) => e.event === 'chunk-sent');
  assert.deepEqual(
    sent.map((e) => [e.index, e.bytes]),
    Array.from({ length: 16 }, (_, i) => [i, 5000]),
  );
  const echoed = ev.filter((e) => e.event === 'chunk-echoed').map((e) => e.index as number);
  assert.deepEqual(
    echoed.sort((a, b) => a - b),
    Array.from({ length: 16 }, (_, i) => i),
  );
  const summary = ev.find((e) => e.event === 'summary');
  assert.deepEqual(summary && [summary.chunks, summary.echoed, summary.bytes, summary.missing], [
    16,
    16,
    80000,
    [],
  ]);
  const path = ev.find((e) => e.event === 'path-mtu');
  assert.equal(path?.interface, 'lo');
  assert.equal(path?.mtu, 65536);
  assert.equal(path?.fragments, 1);
});

test('IPv4 text output: "packet too big, cannot send", the reason, the tally and the why', async () => {
  const run = startCli(['bigsend', '127.0.0.1', '0', '--quiet']);
  const port = Number(
    (await until(() => /Waiting at 127\.0\.0\.1:(\d+)/.exec(run.stdout.text)?.[1])) ?? 0,
  );
  await echoClient({ host: '127.0.0.1', port, idleMs: 3000 });
  assert.equal(await run.code, 0);
  const out = run.stdout.text;
  assert.match(out, /^packet too big, cannot send$/m);
  assert.match(out, /EMSGSIZE: 80,000 bytes .* over IPv4 the limit is 65,507 bytes of payload/);
  assert.match(out, /^16 of 16 packets echoed back \(80,000 bytes, content verified\)$/m);
  assert.match(out, /MTU is 65,536 bytes/);
  assert.match(out, /loopback’s MTU is 65,536/);
  assert.match(out, /each piece would leave as 4 IP fragments/);
  assert.match(
    out,
    /so the kernel refuses 80,000 bytes in one datagram before anything leaves \(EMSGSIZE\)\. Each piece of 5,000 bytes is below that limit, so it can be sent\./,
  );
  assert.doesNotMatch(out, /Sent piece/, '--quiet leaves out the per-piece lines');
});

test('text output when the payload fits in one datagram: no EMSGSIZE in the why', async () => {
  const run = startCli(['bigsend', '127.0.0.1', '0', '--size', '60000', '--chunks', '1', '-q']);
  const port = Number(
    (await until(() => /Waiting at 127\.0\.0\.1:(\d+)/.exec(run.stdout.text)?.[1])) ?? 0,
  );
  await echoClient({ host: '127.0.0.1', port, idleMs: 3000 });
  assert.equal(await run.code, 0);
  const out = run.stdout.text;
  assert.match(out, /^packet sent \(60,000 bytes as one datagram\)$/m);
  assert.match(
    out,
    /^Why: a UDP datagram carries at most 65,507 bytes over IPv4 \(.*\), and 60,000 bytes are below that limit, so the kernel sent them as one datagram\. The route to 127\.0\.0\.1 uses lo/m,
  );
  assert.match(out, /there the datagram travels as one IP packet, unfragmented\./);
  assert.match(out, /the datagram would leave as 41 IP fragments/);
  assert.doesNotMatch(out, /EMSGSIZE|refuses|too big|Each piece/);
});

test('the why at the limit: "exactly at that limit", whether the whole went out or not', () => {
  const base = {
    to: { address: '::1', port: 1 },
    family: 'IPv6',
    limit: 65527,
    interface: null,
    mtu: null,
    source: null,
    interfaceMtu: null,
    expiresSec: null,
    fragments: null,
    fragmentBytes: null,
  } as const;
  const whole = explainPath({ ...base, size: 65527, wholeSent: true, pieceBytes: 65527 });
  assert.match(whole, /and 65,527 bytes are exactly at that limit, so the kernel sent them as one/);
  assert.doesNotMatch(whole, /EMSGSIZE|below/);
  const split = explainPath({ ...base, size: 131054, wholeSent: false, pieceBytes: 65527 });
  assert.match(split, /so the kernel refuses 131,054 bytes in one datagram .*\(EMSGSIZE\)\./);
  assert.match(split, /Each piece of 65,527 bytes is exactly at that limit, so it can be sent\./);
  const both = explainPath({ ...base, size: 60000, wholeSent: true, pieceBytes: 30000 });
  assert.match(
    both,
    /60,000 bytes are below that limit.* Each piece of 30,000 bytes is below that limit too\./,
  );
});

test('the why names a learned or route MTU as the path’s, with the interface’s own MTU beside it', () => {
  const base = {
    to: { address: '10.98.1.1', port: 1 },
    family: 'IPv4',
    limit: 65507,
    size: 80000,
    wholeSent: false,
    pieceBytes: 5000,
    interface: 'vC',
    mtu: 1000,
    interfaceMtu: 1500,
    fragments: 6,
    fragmentBytes: 976,
  } as const;
  const learned = explainPath({ ...base, source: 'learned', expiresSec: 598 });
  assert.match(
    learned,
    /The path MTU to 10\.98\.1\.1 is 1,000 bytes: learned by path MTU discovery \(a router on the way answered a larger packet with ICMP “fragmentation needed”\) and cached by the kernel for this destination, for 598 s more \(read from `ip route get`\)\. The route uses vC, whose own MTU is 1,500 bytes \(read from \/sys\/class\/net\/vC\/mtu\)\. On this path the IP layer splits each piece into 6 fragments of at most 976 bytes/,
  );
  assert.doesNotMatch(learned, /whose MTU is 1,000/, 'the trial’s wording: 1,000 as vC’s MTU');
  const route = explainPath({ ...base, source: 'route', expiresSec: null });
  assert.match(
    route,
    /The path MTU to 10\.98\.1\.1 is 1,000 bytes: the route’s `mtu` attribute \(read from `ip route get`\)\. The route uses vC, whose own MTU is 1,500 bytes/,
  );
  assert.doesNotMatch(route, /learned|whose MTU is 1,000/);
  const v6 = explainPath({
    ...base,
    to: { address: 'fd00::2', port: 1 },
    family: 'IPv6',
    limit: 65527,
    mtu: 1280,
    source: 'learned',
    expiresSec: null,
    interfaceMtu: null,
  });
  assert.match(v6, /ICMPv6 “packet too big”\) and cached by the kernel for this destination \(/);
  assert.match(v6, /The route uses vC, whose own MTU could not be read\./);
});

for (const c of [
  { host: '127.0.0.1', ok: 65507, tooBig: 65508 },
  { host: '::1', ok: 65527, tooBig: 65528 },
]) {
  test(`${c.host}: ${c.ok} bytes go as one datagram and come back; ${c.tooBig} do not`, async () => {
    for (const [size, fits] of [
      [c.ok, true],
      [c.tooBig, false],
    ] as const) {
      const b = await startBigsend({ host: c.host, port: 0, size, chunks: 2 });
      await echoClient({ host: c.host, port: b.port, idleMs: 3000 });
      const r = await b.result;
      assert.equal(r.wholeSent, fits, `${size}`);
      assert.equal(r.wholeEchoed, fits, `${size}`);
      assert.equal(r.echoed, 2);
      const tooBig = ofKind(b.events, 'too-big');
      assert.deepEqual(
        ofKind(b.events, 'path-mtu').map((e) => e.wholeSent),
        [fits],
      );
      if (fits) {
        assert.deepEqual(
          ofKind(b.events, 'sent-whole').map((e) => e.bytes),
          [size],
        );
        assert.equal(tooBig.length, 0);
      } else {
        assert.deepEqual(
          tooBig.map((e) => [e.bytes, e.limit, e.code]),
          [[size, c.ok, 'EMSGSIZE']],
        );
      }
    }
  });
}

test('uneven split: 80,001 bytes in 16 → one piece of 5,001 and fifteen of 5,000, all verified', async () => {
  const b = await startBigsend({ host: '127.0.0.1', port: 0, size: 80001, chunks: 16 });
  await echoClient({ host: '127.0.0.1', port: b.port, idleMs: 3000 });
  const r = await b.result;
  assert.deepEqual(
    ofKind(b.events, 'chunk-sent').map((e) => e.bytes),
    [5001, ...Array<number>(15).fill(5000)],
  );
  assert.deepEqual([r.echoed, r.bytes, r.missing], [16, 80001, []]);
});

test('chunks = 1 with a size under the limit: the whole datagram and the one piece both come back', async () => {
  const run = startCli(['bigsend', '127.0.0.1', '0', '--size', '1000', '--chunks', '1', '--json']);
  const port = await cliPort(run.stdout);
  await echoClient({ host: '127.0.0.1', port, idleMs: 3000 });
  assert.equal(await run.code, 0);
  const ev = run.stdout.events();
  assert.equal(ev.filter((e) => e.event === 'sent-whole').length, 1);
  assert.equal(ev.filter((e) => e.event === 'whole-echoed').length, 1);
  assert.deepEqual(
    ev.filter((e) => e.event === 'chunk-echoed').map((e) => e.index),
    [0],
  );
});

/** A scripted echo peer: says hello, echoes everything except the datagrams `drop` picks. */
async function droppingPeer(
  port: number,
  drop: (data: Buffer) => boolean,
): Promise<{ socket: dgram.Socket; dropped: () => number }> {
  const socket = await rawSocket();
  let dropped = 0;
  socket.on('message', (data, r) => {
    if (data.length === 0) return;
    if (drop(data)) dropped++;
    else socket.send(data, r.port, r.address);
  });
  socket.send('hello', port, '127.0.0.1');
  return { socket, dropped: () => dropped };
}

test('a peer that drops one echo: the missing piece is named, exit 1', async (t) => {
  // With --pattern every piece differs, so the dropped one is named exactly.
  const piece3 = splitPayload(makePayload(80000, { pattern: true }), 16)[3] ?? Buffer.alloc(0);
  const run = startCli(['bigsend', '127.0.0.1', '0', '--pattern', '--wait', '0.2', '--json']);
  const port = await cliPort(run.stdout);
  const peer = await droppingPeer(port, (d) => d.equals(piece3));
  t.after(() => peer.socket.close());
  assert.equal(await run.code, 1);
  assert.equal(peer.dropped(), 1);
  const summary = run.stdout.events().find((e) => e.event === 'summary');
  assert.deepEqual(summary && [summary.echoed, summary.bytes, summary.missing], [15, 75000, [3]]);
});

test('a dropped echo with the lab’s one-character fill: still counted as missing, text names it', async (t) => {
  let seen = 0;
  const run = startCli(['bigsend', '127.0.0.1', '0', '--wait', '0.2']);
  const port = Number(
    (await until(() => /Waiting at 127\.0\.0\.1:(\d+)/.exec(run.stdout.text)?.[1])) ?? 0,
  );
  const peer = await droppingPeer(port, () => ++seen === 5);
  t.after(() => peer.socket.close());
  assert.equal(await run.code, 1);
  assert.match(
    run.stdout.text,
    /^15 of 16 packets echoed back \(75,000 of 80,000 bytes, content verified\); missing: piece \d+$/m,
  );
});

test('strangers, repeats and non-copies are ignored, never counted', async (t) => {
  const b = await startBigsend({ host: '127.0.0.1', port: 0, size: 100, chunks: 4, waitMs: 300 });
  const stranger = await rawSocket();
  t.after(() => stranger.close());
  const peer = await rawSocket();
  t.after(() => peer.close());
  peer.on('message', (data, r) => {
    if (data.length === 0) return;
    peer.send(data, r.port, r.address);
    peer.send(data, r.port, r.address); // a duplicate
    stranger.send(data, r.port, r.address); // the right bytes from the wrong sender
  });
  // Straight after the hello, in the same batch: the first datagram after it is already checked.
  peer.send('hello', b.port, '127.0.0.1');
  peer.send('not a piece', b.port, '127.0.0.1');
  const r = await b.result;
  assert.deepEqual([r.echoed, r.missing], [4, []]);
  const reasons = ofKind(b.events, 'ignored').map((e) => e.reason);
  assert.ok(reasons.includes('stranger'));
  assert.ok(reasons.includes('duplicate'));
  assert.ok(reasons.includes('unexpected'));
});

test('a piece above the limit is refused up front with a usage error (exit 2)', async () => {
  const v4 = await runCli(['bigsend', '127.0.0.1', '0', '--size', '80000', '--chunks', '1']);
  assert.equal(v4.code, 2);
  assert.match(
    v4.stderr.text,
    /a piece of 80,000 bytes is above the UDP payload limit of 65,507 bytes over IPv4: use chunks ≥ 2 for 80,000 bytes/,
  );
  const v6 = await runCli(['bigsend', '::1', '0', '--size', '65528', '--chunks', '1']);
  assert.equal(v6.code, 2);
  assert.match(v6.stderr.text, /65,527 bytes over IPv6/);
  const fill = await runCli(['bigsend', '127.0.0.1', '0', '--fill', 'ab']);
  assert.equal(fill.code, 2);
  assert.match(fill.stderr.text, /fill must be one printable ASCII character/);
  const chunks = await runCli(['bigsend', '127.0.0.1', '0', '--size', '10', '--chunks', '11']);
  assert.equal(chunks.code, 2);
  await assert.rejects(bigsend({ host: '127.0.0.1', size: 70000, chunks: 1 }), RangeError);
});

test('aborting while waiting for the hello rejects with UDPLAB_ERR_ABORTED and closes the socket', async () => {
  const ac = new AbortController();
  const b = await startBigsend({ host: '127.0.0.1', port: 0, signal: ac.signal });
  ac.abort();
  await assert.rejects(b.result, { code: 'UDPLAB_ERR_ABORTED' });
  // The socket was closed: the same port can be bound again.
  const again = new AbortController();
  const b2 = await startBigsend({ host: '127.0.0.1', port: b.port, signal: again.signal });
  assert.equal(b2.port, b.port);
  again.abort();
  await assert.rejects(b2.result, { code: 'UDPLAB_ERR_ABORTED' });
  await assert.rejects(bigsend({ signal: AbortSignal.abort() }), { code: 'UDPLAB_ERR_ABORTED' });
});

test('Ctrl-C while waiting for the echoes: the tally of what came back, not an error', async (t) => {
  const ac = new AbortController();
  const b = await startBigsend({
    host: '127.0.0.1',
    port: 0,
    size: 100,
    chunks: 4,
    waitMs: 60_000,
    signal: ac.signal,
  });
  // A peer that echoes only the first datagram it gets, then plays dead.
  let echoed = 0;
  const peer = await droppingPeer(b.port, () => echoed++ > 0);
  t.after(() => peer.socket.close());
  await until(() =>
    b.events.some((e) => e.event === 'chunk-sent' && e.index === 3) ? true : undefined,
  );
  // Abort only once the one echo has been counted (it may still be in flight after the last send).
  await until(() =>
    b.events.some((e) => e.event === 'chunk-echoed' || e.event === 'whole-echoed')
      ? true
      : undefined,
  );
  ac.abort();
  const r = await b.result;
  assert.equal(r.echoed + (r.wholeEchoed ? 1 : 0), 1);
  assert.ok(b.events.some((e) => e.event === 'summary'));
});
