/**
 * The native socket's sealed path (native/udplab_sealed.c, udplab_replay.c) against ServerCore's
 * (src/server-core.ts, src/replay.ts): the same verdicts from the replay cache, and from a server
 * the same replies and counters for the same datagrams, hostile ones included.
 */
import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import { test, type TestContext } from 'node:test';
import { loadNativeAddon } from '../src/backend/native.js';
import {
  ReplayCache,
  SealKey,
  SealedType,
  createServer,
  openDatagram,
  sealDatagram,
  type ServerEvent,
  type UdpServer,
} from '../src/index.js';
import { nativeSkipReason } from './backends.js';
import { rawSocket } from './helpers.js';
import { sealByHand, sealedWithAttemptZero } from './sealed-craft.js';

const skip = nativeSkipReason ?? false;
const KINDS = ['new', 'retransmission', 'stale', 'replay', 'cache-full'] as const;

/** A small seeded generator (the test must be reproducible). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

test(
  'replay cache in C: the same verdicts and sizes as src/replay.ts, 200,000 random steps',
  { skip },
  () => {
    const load = loadNativeAddon();
    assert.ok('addon' in load, 'reason' in load ? load.reason : '');
    const { replayOpen, replayCheck, replaySize } = load.addon;
    assert.ok(replayOpen && replayCheck && replaySize, 'the addon has the replay hooks');
    const rnd = lcg(11);
    let steps = 0;
    for (let round = 0; round < 40; round++) {
      const windowMs = 1 + Math.floor(rnd() * 200);
      const capacity = 1 + Math.floor(rnd() * (round % 3 === 0 ? 3000 : 40));
      const js = new ReplayCache({ windowMs, capacity, notBeforeMs: 1000 });
      const c: object = replayOpen(windowMs, capacity, 1000);
      // Small IDs collide often; full 64-bit ones exercise both words and the high bit.
      const ids = Array.from({ length: 1 + Math.floor(rnd() * 5000) }, () =>
        rnd() < 0.5
          ? [0, Math.floor(rnd() * 100)]
          : [Math.floor(rnd() * 2 ** 32), Math.floor(rnd() * 2 ** 32)],
      );
      let now = 1000;
      for (let i = 0; i < 5000; i++, steps++) {
        now += Math.floor(rnd() * 3);
        const [hi = 0, lo = 0] = ids[Math.floor(rnd() * ids.length)] ?? [];
        const sent = now + Math.floor(rnd() * (2 * windowMs + 10)) - windowMs - 5;
        const attempt = 1 + Math.floor(rnd() * 4);
        const want = js.checkWords(hi, lo, sent, attempt, now);
        if (want.kind === 'new') js.rememberWords(hi, lo, sent, attempt, Uint8Array.of(1));
        const got: string | undefined = KINDS[replayCheck(c, hi, lo, sent, attempt, now)];
        assert.equal(got, want.kind, `round ${round}, step ${i}`);
        assert.equal(replaySize(c)[0], js.size, `round ${round}, step ${i}`);
      }
      assert.ok(replaySize(c)[1] < 200 * capacity + 64 * 1024, 'memory bounded by the capacity');
    }
    assert.equal(steps, 200_000);
  },
);

/** The marker's ID: sent after every datagram of the script, each time as its next attempt. */
const MARKER = 1n << 40n;

/**
 * Sends `d`, then the marker (a retransmission from its second attempt on, so that it is answered
 * even when the cache is full): whatever comes back before the marker's reply is d's.
 */
async function answerOf(
  socket: dgram.Socket,
  port: number,
  key: SealKey,
  d: Buffer,
  attempt: number,
): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no reply to the marker')), 3000);
    const on = (data: Buffer): void => {
      const r = openDatagram(key, data);
      if (r.ok && r.message.id === MARKER) {
        clearTimeout(timer);
        socket.off('message', on);
        resolve(got);
      } else got.push(data);
    };
    socket.on('message', on);
    socket.send(d, port, '127.0.0.1');
    const m = sealDatagram(key, {
      type: SealedType.REQUEST,
      id: MARKER,
      timeMs: Date.now(),
      attempt,
      body: Buffer.from('marker'),
    });
    socket.send(m, port, '127.0.0.1');
  });
}

/** The datagrams of the comparison: every kind of request and of attack, in an order that matters. */
function script(key: SealKey, other: SealKey): { name: string; data: Buffer }[] {
  const now = Date.now(); // after the server started: its requests are not stale
  const req = (
    id: bigint,
    attempt: number,
    body = 'hello',
    timeMs = now,
    type: SealedType = SealedType.REQUEST,
  ) => sealDatagram(key, { type, id, timeMs, attempt, body: Buffer.from(body) });
  const first = req(1n, 1, 'transfer 100 EUR');
  const flipped = Buffer.from(req(2n, 1));
  flipped[20] = (flipped[20] ?? 0) ^ 1;
  const out: { name: string; data: Buffer }[] = [
    { name: 'new', data: first },
    { name: 'replay of it', data: first },
    { name: 'retransmission (attempt 2)', data: req(1n, 2, 'transfer 100 EUR') },
    { name: 'retransmission replayed', data: req(1n, 2, 'transfer 100 EUR') },
    { name: 'retransmission (attempt 5)', data: req(1n, 5, 'transfer 100 EUR') },
    { name: 'lower attempt', data: req(1n, 3) },
    { name: 'bit flipped', data: flipped },
    {
      name: 'other key',
      data: sealDatagram(other, {
        type: SealedType.REQUEST,
        id: 3n,
        timeMs: now,
        attempt: 1,
        body: Buffer.from('x'),
      }),
    },
    { name: 'plain text', data: Buffer.from('hello') },
    { name: 'empty', data: Buffer.alloc(0) },
    { name: 'magic only', data: Buffer.of(0xfe) },
    { name: 'short', data: req(4n, 1).subarray(0, 48) },
    { name: 'version 2', data: Buffer.concat([Buffer.of(0xfe, 2), req(5n, 1).subarray(2)]) },
    { name: 'type 3', data: Buffer.concat([Buffer.of(0xfe, 1, 3), req(6n, 1).subarray(3)]) },
    { name: 'a reply', data: req(7n, 1, 'hi', now, SealedType.REPLY) },
    { name: 'attempt 0', data: sealedWithAttemptZero(key, 8n, now) },
    { name: 'stale (60 s old)', data: req(9n, 1, 'old', now - 60_000) },
    { name: 'from the future', data: req(10n, 1, 'new', now + 60_000) },
    { name: 'before the start', data: req(11n, 1, 'x', now - 5_000) },
    {
      name: 'time 2^64 - 1',
      data: sealByHand(key, {
        type: 1,
        id: 12n,
        timeHi: 0xffffffff,
        timeLo: 0xffffffff,
        attempt: 1,
        body: Buffer.alloc(0),
      }),
    },
    { name: 'empty body', data: req(13n, 1, '') },
    { name: 'big body', data: req(14n, 1, 'x'.repeat(60_000)) },
    { name: 'ID 2^64 - 1', data: req(2n ** 64n - 1n, 1) },
  ];
  // Then new IDs until the cache (8 entries, the marker's included) is full: 3 refused.
  for (let i = 0; i < 6; i++) out.push({ name: `filler ${i}`, data: req(100n + BigInt(i), 1) });
  return out;
}

interface Outcome {
  replies: { id: bigint; attempt: number; text: string; bytes: Buffer }[][];
  summary: ServerEvent | undefined;
  counters: UdpServer['counters'];
}

async function run(
  t: TestContext,
  backend: 'native' | 'dgram',
  key: SealKey,
  other: SealKey,
): Promise<Outcome & { path: string; names: string[] }> {
  const events: ServerEvent[] = [];
  const server = await createServer({
    host: '127.0.0.1',
    key,
    backend,
    perDatagramEvents: false,
    replayCacheSize: 8,
    onEvent: (e) => events.push(e),
  });
  t.after(() => server.close());
  const socket = await rawSocket();
  t.after(() => socket.close());
  await new Promise((r) => setTimeout(r, 2)); // the requests' times come after the start
  const datagrams = script(key, other);
  const replies: Outcome['replies'] = [];
  let attempt = 1;
  for (const { data } of datagrams) {
    const got = await answerOf(socket, server.address.port, key, data, attempt++);
    replies.push(
      got.map((bytes) => {
        const r = openDatagram(key, bytes);
        assert.ok(r.ok && r.message.type === SealedType.REPLY, 'every reply is a sealed reply');
        return {
          id: r.message.id,
          attempt: r.message.attempt,
          text: Buffer.from(r.message.body).toString(),
          bytes,
        };
      }),
    );
  }
  const counters = structuredClone(server.counters);
  await server.close();
  return {
    replies,
    counters,
    summary: events.find((e) => e.event === 'summary'),
    path: server.replyPath,
    names: datagrams.map((d) => d.name),
  };
}

test(
  'sealed --quiet on the native backend answers in C: the same replies and counters as the JS path',
  { skip },
  async (t) => {
    const key = SealKey.generate();
    const other = SealKey.generate();
    const [c, js] = [await run(t, 'native', key, other), await run(t, 'dgram', key, other)];
    assert.equal(c.path, 'c');
    assert.equal(js.path, 'js');
    c.names.forEach((name, i) => {
      const a = c.replies[i] ?? [];
      const b = js.replies[i] ?? [];
      assert.deepEqual(
        a.map(({ id, attempt, text }) => ({ id, attempt, text })),
        b.map(({ id, attempt, text }) => ({ id, attempt, text })),
        name,
      );
    });
    // A retransmission gets the first reply again, byte for byte; a replay gets nothing.
    const [first, , again, , fifth] = c.replies;
    assert.equal(first?.length, 1);
    assert.deepEqual(again?.[0]?.bytes, first?.[0]?.bytes);
    assert.deepEqual(fifth?.[0]?.bytes, first?.[0]?.bytes);
    assert.equal(first?.[0]?.attempt, 1, 'the reply carries the attempt it first answered');
    assert.deepEqual(c.counters, js.counters);
    assert.deepEqual(
      { ...c.summary, time: 0 },
      { ...js.summary, time: 0 },
      'the summary event: the same totals',
    );
    // What the script makes of them, so that the comparison is not of two empty runs.
    const n = c.names.length;
    assert.equal(c.counters.received, 2 * n);
    assert.equal(c.counters.retransmissions, 2 + n - 1, 'two in the script, and the marker');
    assert.equal(
      c.counters.replied,
      1 + 2 + 3 + 3 + n,
      'new, retransmitted, new, fillers, markers',
    );
    assert.deepEqual(c.counters.rejectedBy, {
      'not-sealed': 2,
      malformed: 5,
      'bad-auth': 2,
      'wrong-type': 1,
      stale: 4,
      replay: 3,
      'cache-full': 3,
    });
  },
);

test(
  'the C path is taken only when nothing but the replay rules decides a reply',
  { skip },
  async (t) => {
    const key = SealKey.generate();
    const cases: [Parameters<typeof createServer>[0], 'js' | 'c'][] = [
      [{ key, perDatagramEvents: false }, 'c'],
      [{ key }, 'js'], // per-datagram events
      [{ key, perDatagramEvents: false, rateLimit: 100 }, 'js'],
      [{ key, perDatagramEvents: false, dropProbability: 0.5 }, 'js'],
      [{ perDatagramEvents: false }, 'js'], // plain
      [{ key, perDatagramEvents: false, backend: 'dgram' }, 'js'],
    ];
    for (const [options, path] of cases) {
      const server = await createServer({ host: '127.0.0.1', backend: 'native', ...options });
      t.after(() => server.close());
      assert.equal(server.replyPath, path, JSON.stringify({ ...options, key: undefined }));
    }
  },
);

test('the addon refuses a handle of another kind and arguments out of range', { skip }, () => {
  const load = loadNativeAddon();
  assert.ok('addon' in load);
  const { replayOpen, replayCheck, sealedServe } = load.addon;
  const close = (h: object): number => load.addon.close(h);
  assert.ok(replayOpen && replayCheck && sealedServe);
  const cache = replayOpen(10, 5, 0);
  assert.throws(() => close(cache), /not an open socket/, 'a cache is not a socket');
  assert.throws(
    () => sealedServe(cache, new Uint8Array(32), 10, 5, 0, new ArrayBuffer(13 * 8)),
    TypeError,
  );
  assert.throws(() => replayCheck({}, 0, 0, 0, 1, 0), TypeError, 'a plain object is no cache');
  for (const [windowMs, capacity] of [
    [Infinity, 5],
    [0, 5],
    [10, 0],
    [10, 2 ** 24 + 1],
    [10, 1.5],
  ] as const)
    assert.throws(() => replayOpen(windowMs, capacity, 0), TypeError, `${windowMs}, ${capacity}`);
  assert.equal(replayCheck(replayOpen(10, 2 ** 24, 0), 0, 1, 5, 1, 5), 0, 'the largest capacity');
});
