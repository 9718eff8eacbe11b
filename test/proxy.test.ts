/**
 * The proxy with real sockets on loopback: relaying both ways, one upstream socket per client,
 * IPv4/IPv6 on either side, the client's retransmission through 30 % loss, measured delay and
 * jitter, the client table's bounds, closing, and a new client announced before its datagrams' events.
 */
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import type dgram from 'node:dgram';
import { test } from 'node:test';
import {
  GaveUpError,
  createProxy,
  createServer,
  request,
  seededRng,
  type ProxyEvent,
  type ProxyOptions,
  type ServerEvent,
  type UdpProxy,
} from '../src/index.js';
import type { LostEvent } from '../src/proxy-events.js';
import { canonicalAddress, sameEndpoint } from '../src/address.js';
import { relaysToItself } from '../src/proxy-config.js';
import { UpstreamTable } from '../src/proxy-upstream.js';
import { freePort, nextMessage, rawSocket, until } from './helpers.js';

async function proxyTo(
  t: { after: (fn: () => unknown) => void },
  port: number,
  extra: Partial<ProxyOptions> = {},
  host = '127.0.0.1',
): Promise<{ proxy: UdpProxy; events: ProxyEvent[] }> {
  const events: ProxyEvent[] = [];
  const proxy = await createProxy({
    listen: { host: extra.listen?.host ?? '127.0.0.1', port: 0 },
    to: { host, port },
    onEvent: (e) => events.push(e),
    ...extra,
  });
  t.after(() => proxy.close());
  return { proxy, events };
}

/** A raw socket that echoes every datagram back to its sender. */
async function echoPeer(t: { after: (fn: () => unknown) => void }): Promise<dgram.Socket> {
  const s = await rawSocket();
  t.after(() => s.close());
  s.on('message', (data, r) => s.send(data, r.port, r.address));
  return s;
}

test('relays a request to the server and the reply back to the client', async (t) => {
  const server = await createServer({ host: '127.0.0.1' });
  t.after(() => server.close());
  const { proxy, events } = await proxyTo(t, server.address.port);
  const r = await request({ host: '127.0.0.1', port: proxy.address.port, message: 'hello' });
  assert.equal(r.text, 'I received from you a message of 5 bytes');
  assert.equal(r.from.port, proxy.address.port);
  const fwd = events.filter((e) => e.event === 'forwarded');
  assert.deepEqual(
    fwd.map((e) => [e.direction, e.seq, e.bytes, e.client.port]),
    [
      ['up', 1, 5, r.local.port],
      ['down', 1, 40, r.local.port],
    ],
  );
  const listening = events.find((e) => e.event === 'listening');
  assert.deepEqual(listening?.to, { address: '127.0.0.1', port: server.address.port });
});

test('many clients at once each get their own replies, through their own upstream sockets', async (t) => {
  const seen: ServerEvent[] = [];
  const server = await createServer({ host: '127.0.0.1', onEvent: (e) => seen.push(e) });
  t.after(() => server.close());
  // Delay with jitter mixes the clients' datagrams; duplicates add stray copies.
  const { proxy } = await proxyTo(t, server.address.port, {
    impairments: { delayMs: 10, jitterMs: 8, duplicate: 0.2 },
    rng: seededRng(5),
  });
  const n = 30;
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      request({
        host: '127.0.0.1',
        port: proxy.address.port,
        message: 'x'.repeat(i + 1),
        id: true,
        timeoutMs: 200,
      }),
    ),
  );
  results.forEach((r, i) => {
    assert.equal(
      r.text,
      `I received from you a message of ${i + 1 + (r.id?.length ?? 0) + 2} bytes`,
    );
  });
  const upstreamPorts = new Set(seen.flatMap((e) => (e.event === 'message' ? [e.from.port] : [])));
  assert.equal(upstreamPorts.size, n, 'the server saw one source port per client');
  const report = proxy.report();
  assert.equal(report.clients.total, n);
  assert.equal(report.clients.active, n);
  assert.ok(report.up.duplicated + report.down.duplicated > 0);
});

test('the client’s retransmission beats 30 % loss far more often than a single try', async (t) => {
  const server = await createServer({ host: '127.0.0.1' });
  t.after(() => server.close());
  const { proxy } = await proxyTo(t, server.address.port, {
    impairments: { loss: 0.3 },
    rng: seededRng(30),
  });
  // A round trip survives with probability 0.7² = 0.49. One try: Binomial(40, 0.49), mean 19.6;
  // P[> 30] ≈ 2·10⁻⁴. With 5 transmissions (waits 20, 40, 80, 160, 320 ms) a request fails with
  // probability 0.51⁵ ≈ 0.035: Binomial(40, 0.965), mean 38.6; P[< 34] ≈ 2·10⁻³ (fixed seed).
  const n = 40;
  const attempt = async (attempts: number): Promise<number> => {
    const outcomes = await Promise.all(
      Array.from({ length: n }, () =>
        request({
          host: '127.0.0.1',
          port: proxy.address.port,
          timeoutMs: 20,
          maxDelayMs: 320,
          attempts,
        }).then(
          () => 1,
          (err: unknown) => {
            if (err instanceof GaveUpError) return 0;
            throw err;
          },
        ),
      ),
    );
    return outcomes.reduce((a: number, b) => a + b, 0);
  };
  const single = await attempt(1);
  const retrying = await attempt(5);
  t.diagnostic(`answered: single try ${single}/${n}, with retransmission ${retrying}/${n}`);
  assert.ok(single <= 30, `single try answered ${single}/${n}`);
  assert.ok(retrying >= 34, `with retransmission answered ${retrying}/${n}`);
  assert.ok(retrying > single);
  const r = proxy.report();
  const lossRate = (r.up.lostRandom + r.down.lostRandom) / (r.up.received + r.down.received);
  // Binomial over ≳ 150 datagrams at p = 0.3: σ ≤ 0.04; ±0.15 is a wide bound.
  assert.ok(Math.abs(lossRate - 0.3) < 0.15, `measured loss ${lossRate}`);
});

test('measured delay and jitter stay within their bounds', async (t) => {
  const echo = await echoPeer(t);
  const { proxy, events } = await proxyTo(t, echo.address().port, {
    up: { delayMs: 30, jitterMs: 10 },
    rng: seededRng(8),
  });
  const client = await rawSocket();
  t.after(() => client.close());
  const n = 40;
  const sentAt = new Map<number, number>();
  const rtts: number[] = [];
  const done = new Promise<void>((resolve) => {
    client.on('message', (data) => {
      const i = data.readUInt32BE(0);
      rtts.push(performance.now() - (sentAt.get(i) ?? Number.NaN));
      if (rtts.length === n) resolve();
    });
  });
  for (let i = 0; i < n; i++) {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(i);
    sentAt.set(i, performance.now());
    client.send(b, proxy.address.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 3));
  }
  await done;
  // Up: 30 ms ± 10 ms uniform; down: clean. The invariant: no datagram comes back before
  // 20 ms. Above, timer lateness (1 ms resolution; more on a loaded machine) only adds, so the
  // centre and spread are judged on quantiles, which a few late outliers cannot move much.
  assert.ok(
    rtts.every((x) => x >= 19.5),
    `rtts ${rtts.map((x) => x.toFixed(1)).join(' ')}`,
  );
  // U(20, 40): median 30, quartiles 25 and 35. For n = 40 a sample quartile has a standard error
  // of √(q(1−q)/n)/f = √(0.1875/40)/0.05 ≈ 1.4 ms (median: 1.6 ms). Bounds: median in [26, 37]
  // (2.5 SE below; 2.5 SE + 3 ms of lateness above); IQR in [5, 15] (its SE is about 1.7 ms).
  const sorted = [...rtts].sort((a, b) => a - b);
  const q = (p: number): number => sorted[Math.floor(p * (n - 1))] ?? Number.NaN;
  const median = q(0.5);
  const iqr = q(0.75) - q(0.25);
  t.diagnostic(`rtt median ${median.toFixed(2)} ms, IQR ${iqr.toFixed(2)} ms (expected 30, 10)`);
  assert.ok(median >= 26 && median <= 37, `median ${median}`);
  assert.ok(iqr >= 5 && iqr <= 15, `IQR ${iqr}`);
  const upDelays = events.flatMap((e) =>
    e.event === 'forwarded' && e.direction === 'up' ? [e.delayMs] : [],
  );
  assert.equal(upDelays.length, n);
  assert.ok(upDelays.every((d) => d >= 20 - 1e-9));
});

test('IPv6 clients to an IPv4 server, and IPv4 clients to an IPv6 server', async (t) => {
  const v4 = await createServer({ host: '127.0.0.1' });
  t.after(() => v4.close());
  const v6 = await createServer({ host: '::1' });
  t.after(() => v6.close());
  const a = await proxyTo(t, v4.address.port, { listen: { host: '::1' } });
  assert.equal(a.proxy.address.family, 'IPv6');
  const ra = await request({ host: '::1', port: a.proxy.address.port, message: 'six' });
  assert.equal(ra.text, 'I received from you a message of 3 bytes');
  const b = await proxyTo(t, v6.address.port, {}, '::1');
  assert.deepEqual(b.proxy.target, { address: '::1', port: v6.address.port });
  const rb = await request({ host: '127.0.0.1', port: b.proxy.address.port, message: 'four' });
  assert.equal(rb.text, 'I received from you a message of 4 bytes');
});

test('idle clients are evicted, and a full table evicts the least recently active', async (t) => {
  const echo = await echoPeer(t);
  const { proxy, events } = await proxyTo(t, echo.address().port, {
    idleTimeoutMs: 40,
    maxClients: 2,
  });
  const sockets = await Promise.all([rawSocket(), rawSocket(), rawSocket()]);
  for (const s of sockets) t.after(() => s.close());
  const [first] = sockets;
  assert.ok(first);
  for (const s of sockets) {
    s.send('hi', proxy.address.port, '127.0.0.1');
    await nextMessage(s);
  }
  const full = events.filter((e) => e.event === 'client-evicted' && e.reason === 'table-full');
  assert.deepEqual(
    full.map((e) => e.event === 'client-evicted' && e.client.port),
    [first.address().port],
  );
  await until(() => (proxy.report().clients.active === 0 ? true : undefined), 2000);
  const r = proxy.report().clients;
  assert.deepEqual([r.total, r.evictedFull, r.evictedIdle], [3, 1, 2]);
  // An evicted client that comes back gets a new upstream socket and still works.
  first.send('back', proxy.address.port, '127.0.0.1');
  const again = await nextMessage(first);
  assert.equal(again.data.toString(), 'back');
});

test('a server that is not running: port unreachable is counted, the client gives up', async (t) => {
  const port = await freePort();
  const { proxy, events } = await proxyTo(t, port);
  await assert.rejects(
    request({ host: '127.0.0.1', port: proxy.address.port, timeoutMs: 20, attempts: 3 }),
    GaveUpError,
  );
  await until(() => (proxy.report().clients.refused > 0 ? true : undefined));
  assert.ok(events.some((e) => e.event === 'refused'));
});

test('aborting closes the proxy and emits the summary', async (t) => {
  const echo = await echoPeer(t);
  const controller = new AbortController();
  const events: ProxyEvent[] = [];
  const proxy = await createProxy({
    listen: { host: '127.0.0.1', port: 0 },
    to: { host: '127.0.0.1', port: echo.address().port },
    impairments: { delayMs: 500 },
    statsIntervalMs: 20,
    onEvent: (e) => events.push(e),
    signal: controller.signal,
  });
  const client = await rawSocket();
  t.after(() => client.close());
  client.send('held', proxy.address.port, '127.0.0.1');
  await until(() => (proxy.report().up.queued === 1 ? true : undefined));
  await until(() => events.find((e) => e.event === 'stats'));
  controller.abort();
  await proxy.closed;
  const summary = events.at(-1);
  assert.equal(summary?.event, 'summary');
  if (summary?.event === 'summary') {
    assert.equal(summary.up.received, 1);
    assert.equal(summary.up.queued, 1, 'the datagram still inside is reported');
  }
  await proxy.close(); // idempotent
});

test('invalid options fail at once with a RangeError', async () => {
  await assert.rejects(
    createProxy({
      listen: { host: '127.0.0.1' },
      to: { host: '127.0.0.1', port: 9 },
      up: { loss: 2 },
    }),
    RangeError,
  );
  await assert.rejects(
    createProxy({ listen: { host: '127.0.0.1' }, to: { host: '127.0.0.1', port: 0 } }),
    RangeError,
  );
  await assert.rejects(
    createProxy({
      listen: { host: '127.0.0.1' },
      to: { host: '127.0.0.1', port: 9 },
      maxClients: 0,
    }),
    RangeError,
  );
});

/** A client socket that records the number (first 4 bytes) and arrival time of every datagram. */
async function recorder(t: {
  after: (fn: () => unknown) => void;
}): Promise<{ socket: dgram.Socket; order: number[]; at: number[] }> {
  const socket = await rawSocket();
  t.after(() => socket.close());
  const order: number[] = [];
  const at: number[] = [];
  socket.on('message', (d) => {
    order.push(d.readUInt32BE(0));
    at.push(performance.now());
  });
  return { socket, order, at };
}

function numberedDatagram(i: number, size = 8): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(i);
  return b;
}

test('duplicates and reordering show in the order datagrams arrive', async (t) => {
  const echo = await echoPeer(t);
  const { proxy } = await proxyTo(t, echo.address().port, {
    up: { duplicate: 0.2, reorder: 0.2 },
    rng: seededRng(12),
  });
  const { socket, order } = await recorder(t);
  const n = 100;
  for (let i = 0; i < n; i++) {
    socket.send(numberedDatagram(i), proxy.address.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 1));
  }
  const up = await until(() => {
    const r = proxy.report().up;
    return r.received === n && r.queued === 0 && order.length === n + r.duplicated ? r : undefined;
  });
  const counts = new Map<number, number>();
  for (const x of order) counts.set(x, (counts.get(x) ?? 0) + 1);
  assert.equal(counts.size, n, 'every datagram arrived');
  assert.equal([...counts.values()].filter((c) => c === 2).length, up.duplicated);
  // Binomial(100, 0.2) for each: mean 20, σ 4; more than 5 is > 3.5σ below the mean.
  assert.ok(up.duplicated > 5 && up.reordered > 5, JSON.stringify(up));
  let max = -1;
  let late = 0;
  for (const x of order) {
    if (x < max) late++;
    max = Math.max(max, x);
  }
  // Each held-back datagram arrives after the one behind it (the last few may only time out).
  assert.ok(late >= up.reordered - 3, `${late} arrived after a later one, ${up.reordered} held`);
});

test('a rate limit holds the byte rate on the wire', async (t) => {
  const echo = await echoPeer(t);
  // 800 kbit/s = 100 000 bytes/s: a 1000-byte datagram every 10 ms.
  const { proxy } = await proxyTo(t, echo.address().port, { up: { rateBitsPerSecond: 800_000 } });
  const { socket, order, at } = await recorder(t);
  const n = 20;
  for (let i = 0; i < n; i++)
    socket.send(numberedDatagram(i, 1000), proxy.address.port, '127.0.0.1');
  await until(() => (order.length === n ? true : undefined));
  assert.deepEqual(
    order,
    Array.from({ length: n }, (_, i) => i),
    'a FIFO keeps the order',
  );
  // 19 intervals of 10 ms: 190 ms from the first to the last. Never faster than the rate (the
  // invariant: ≥ 185 ms allows the 1 ms timer resolution at both ends); the typical gap is the
  // rate's — the median is robust to a late timer on a loaded machine (seen: 190.4 ms, gaps 10 ms).
  const span = (at.at(-1) ?? 0) - (at[0] ?? 0);
  const gaps = at
    .slice(1)
    .map((x, i) => x - (at[i] ?? 0))
    .sort((a, b) => a - b);
  const median = gaps[Math.floor(gaps.length / 2)] ?? 0;
  t.diagnostic(
    `20 × 1000 bytes at 800 kbit/s: ${span.toFixed(1)} ms (ideal 190), median gap ${median.toFixed(2)} ms`,
  );
  assert.ok(span >= 185, `span ${span} ms: faster than the rate`);
  assert.ok(median >= 9 && median <= 15, `median gap ${median} ms`);
});

test('a proxy that would relay to itself is refused at once, whatever the spelling', async () => {
  const port = await freePort();
  const cases: [string, string][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['0.0.0.0', '127.0.0.1'],
    // Linux delivers a datagram sent to 0.0.0.0 to 127.0.0.1, and one sent to :: to ::1.
    ['127.0.0.1', '0.0.0.0'],
    ['::1', '::'],
    // IPv4-mapped and non-canonical IPv6 spellings of the same address.
    ['127.0.0.1', '::ffff:127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::1', '0:0:0:0:0:0:0:1'],
    ['::', '127.0.0.1'],
  ];
  for (const [listen, to] of cases) {
    await assert.rejects(
      createProxy({ listen: { host: listen, port }, to: { host: to, port } }),
      /relay to itself/,
      `${listen} → ${to}`,
    );
  }
});

test('relaysToItself: aliases are the same address, other addresses and ports are not', () => {
  const self = (l: string, t: string, tp = 9000): boolean =>
    relaysToItself({ address: l, port: 9000 }, { address: t, port: tp });
  assert.equal(canonicalAddress('::ffff:7f00:1'), '127.0.0.1');
  assert.equal(canonicalAddress('::FFFF:127.0.0.2'), '127.0.0.2');
  assert.equal(canonicalAddress('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(canonicalAddress('fe80::1%lo'), 'fe80::1%lo');
  // A zone stays, after the canonical address: two spellings of one link-local address are one.
  assert.equal(canonicalAddress('FE80:0::1%va'), 'fe80::1%va');
  assert.equal(self('fe80::1%va', 'FE80:0::1%va'), true);
  assert.equal(self('fe80::1%va', 'fe80::2%va'), false);
  assert.ok(sameEndpoint({ address: 'FE80::1%va', port: 5 }, { address: 'fe80::1%va', port: 5 }));
  // A wildcard listener hears this machine's link-local addresses too (Node lists them zoneless).
  const linkLocal = Object.entries(networkInterfaces())
    .flatMap(([name, list]) => (list ?? []).map((i) => ({ name, address: i.address })))
    .find((i) => i.address.startsWith('fe80:'));
  if (linkLocal !== undefined)
    assert.equal(self('::', `${linkLocal.address.toUpperCase()}%${linkLocal.name}`), true);
  assert.equal(self('127.0.0.1', '0.0.0.0'), true);
  assert.equal(self('::ffff:127.0.0.1', '127.0.0.1'), true);
  assert.equal(self('0.0.0.0', '127.0.0.9'), true);
  assert.equal(self('::', '::1'), true);
  // Not the proxy: another loopback address, the other family on an IPv4 wildcard, another port.
  assert.equal(self('127.0.0.2', '0.0.0.0'), false);
  assert.equal(self('127.0.0.1', '127.0.0.2'), false);
  assert.equal(self('0.0.0.0', '::1'), false);
  assert.equal(self('127.0.0.1', '127.0.0.1', 9001), false);
});

test('a new client is announced (client-added) before any event of its first datagram', async (t) => {
  const echo = await echoPeer(t);
  // Every decision is taken when a datagram arrives, before its client's upstream socket has
  // connected: lost, duplicated and corrupted events used to come before `client-added`.
  const { proxy, events } = await proxyTo(t, echo.address().port, {
    up: { loss: 0.5, duplicate: 0.5, corrupt: 1 },
    rng: seededRng(4),
  });
  const clients = await Promise.all(Array.from({ length: 6 }, () => rawSocket()));
  for (const c of clients) t.after(() => c.close());
  for (let i = 0; i < 3; i++) {
    for (const c of clients) c.send(`datagram ${i}`, proxy.address.port, '127.0.0.1');
  }
  await until(() => (proxy.report().up.received === 18 ? true : undefined));
  await until(() =>
    events.filter((e) => e.event === 'client-added').length === 6 ? true : undefined,
  );
  for (const c of clients) {
    const port = c.address().port;
    const mine = events.filter((e) => 'client' in e && e.client.port === port);
    assert.equal(mine[0]?.event, 'client-added', mine.map((e) => e.event).join(' '));
    assert.ok(mine.some((e) => e.event === 'lost' || e.event === 'corrupted'));
  }
  assert.ok(proxy.report().up.lost > 0);
});

test('the events held for a connecting client are bounded: beyond the bound they go out at once', async (t) => {
  const echo = await echoPeer(t);
  const seen: string[] = [];
  const table = new UpstreamTable({
    target: { address: '127.0.0.1', port: echo.address().port },
    family: 'udp4',
    maxClients: 4,
    idleTimeoutMs: 60_000,
    pendingLimit: 8,
    heldEventLimit: 2,
    sendQueueLimit: 8,
    now: () => performance.now(),
    onReply: () => undefined,
    onEvent: (e) => seen.push(e.event === 'lost' ? `lost #${e.seq}` : e.event),
    clientEvents: true,
  });
  t.after(() => table.closeAll());
  const client = { address: '127.0.0.1', port: 40000 };
  const u = table.get(client, 0); // its socket connects a few ticks later
  const lost = (seq: number): LostEvent => ({
    event: 'lost',
    time: '',
    direction: 'up',
    client,
    seq,
    bytes: 1,
    reason: 'loss',
  });
  for (let seq = 1; seq <= 3; seq++) table.emitFor(u, lost(seq));
  assert.deepEqual(seen, ['lost #3'], 'two held, the third at once');
  await until(() => (seen.length === 4 ? true : undefined));
  assert.deepEqual(seen, ['lost #3', 'client-added', 'lost #1', 'lost #2']);
  table.emitFor(u, lost(4));
  assert.equal(seen.at(-1), 'lost #4', 'once announced, at once');
});

test('an upstream socket that cannot connect: one error, the client fails fast for a second, then it is tried again', async (t) => {
  // fe80::1 without a zone: connect(2) refuses it locally (EINVAL), so nothing is ever sent.
  let clock = 0;
  const errors: string[] = [];
  const table = new UpstreamTable({
    target: { address: 'fe80::1', port: 9 },
    family: 'udp6',
    maxClients: 4,
    idleTimeoutMs: 60_000,
    pendingLimit: 8,
    heldEventLimit: 8,
    sendQueueLimit: 8,
    now: () => clock,
    onReply: () => undefined,
    onEvent: (e) => {
      if (e.event === 'error') errors.push(`${e.code}: ${e.message}`);
    },
    clientEvents: true,
  });
  t.after(() => table.closeAll());
  const client = { address: '::1', port: 40000 };
  const failures: (string | undefined)[] = [];
  const sendOne = (): void => {
    table.send(table.get(client, clock), new Uint8Array([1]), (f) => failures.push(f?.code));
  };
  sendOne(); // waits for the connect, which fails a tick later
  await until(() => (failures.length === 1 ? true : undefined));
  clock = 500;
  for (let i = 0; i < 5; i++) sendOne(); // failed at once: no socket, no event
  assert.deepEqual(failures, Array(6).fill('EINVAL'));
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0] ?? '', /; its datagrams fail for 1 s, then it is tried again$/);
  assert.equal(table.counters.total, 1, 'one socket');
  clock = 1000;
  sendOne(); // a second later: a new socket, a new error
  await until(() => (failures.length === 7 ? true : undefined));
  assert.equal(errors.length, 2);
  assert.equal(table.counters.total, 2);
});
