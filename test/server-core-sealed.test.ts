import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  SealKey,
  SealedType,
  ServerCore,
  createServer,
  openDatagram,
  sealDatagram,
  type CoreEvent,
  type Endpoint,
  type Reply,
} from '../src/index.js';
import { sealByHand, sealedWithAttemptZero } from './sealed-craft.js';

const T0 = 1_800_000_000_000;
const CLIENT: Endpoint = { address: '192.0.2.10', port: 40000 };
const TIME = new Date(T0).toISOString();

function harness(options: ConstructorParameters<typeof ServerCore>[0] = {}) {
  let now = T0;
  const core = new ServerCore({ now: () => now, ...options });
  const feed = (data: Uint8Array, from: Endpoint = CLIENT) => {
    const replies: Reply[] = [];
    const events: CoreEvent[] = [];
    core.handleBatch([{ data, from }], TIME, replies, events);
    return { replies, events };
  };
  return { core, feed, advance: (ms: number) => (now += ms) };
}

const request = (key: SealKey, id: bigint, attempt = 1, timeMs = T0, body = 'hello') =>
  sealDatagram(key, { type: SealedType.REQUEST, id, timeMs, attempt, body: Buffer.from(body) });

test('sealed: a fresh request gets one sealed reply bound to its ID', () => {
  const key = SealKey.generate();
  const { core, feed } = harness({ key });
  const { replies, events } = feed(request(key, 99n));
  assert.equal(replies.length, 1);
  const opened = openDatagram(key, replies[0]?.data ?? new Uint8Array());
  assert.ok(opened.ok);
  assert.equal(opened.message.type, SealedType.REPLY);
  assert.equal(opened.message.id, 99n);
  assert.equal(
    Buffer.from(opened.message.body).toString(),
    'I received from you a message of 5 bytes',
  );
  assert.deepEqual(
    events.map((e) => e.event),
    ['message', 'replied'],
  );
  assert.equal(core.info.keyId, key.id);
});

test('sealed: replays, stale requests, reflected replies, plain text and other keys get nothing', () => {
  const key = SealKey.generate();
  const { core, feed, advance } = harness({ key, windowMs: 10_000 });
  const req = request(key, 1n);
  assert.equal(feed(req).replies.length, 1);
  const reasons: string[] = [];
  const silent = (data: Uint8Array): void => {
    const { replies, events } = feed(data);
    assert.equal(replies.length, 0);
    const e = events.find((x) => x.event === 'rejected');
    reasons.push(e?.event === 'rejected' ? e.reason : 'none');
  };
  silent(req); // replay
  silent(Buffer.from('hello')); // plain text
  silent(request(SealKey.generate(), 2n)); // another key
  silent(Buffer.from([0xfe, 1, 1, 0])); // truncated
  silent(
    sealDatagram(key, {
      type: SealedType.REPLY,
      id: 3n,
      timeMs: T0,
      attempt: 1,
      body: new Uint8Array(),
    }),
  );
  silent(request(key, 4n, 1, T0 - 10_001)); // stale
  advance(10_001);
  silent(request(key, 5n, 1, T0)); // stale now
  assert.deepEqual(reasons, [
    'replay',
    'not-sealed',
    'bad-auth',
    'malformed',
    'wrong-type',
    'stale',
    'stale',
  ]);
  assert.equal(core.counters.rejected, 7);
  assert.equal(core.counters.rejectedBy.replay, 1);
  assert.equal(core.counters.replied, 1);
});

test('sealed: a retransmission gets the same sealed reply again and is not counted as an attack', () => {
  const key = SealKey.generate();
  const { core, feed, advance } = harness({ key });
  const first = feed(request(key, 7n, 1)).replies[0]?.data;
  advance(100);
  const second = feed(request(key, 7n, 2, T0 + 100));
  assert.deepEqual(second.replies[0]?.data, first, 'byte for byte the cached reply');
  assert.deepEqual(
    second.events.map((e) => e.event),
    ['retransmission', 'replied'],
  );
  assert.equal(core.counters.retransmissions, 1);
  assert.equal(core.counters.rejected, 0);
  assert.equal(core.replayEntries, 1);
});

test('sealed: the replay cache fails closed when full', () => {
  const key = SealKey.generate();
  const { core, feed } = harness({ key, replayCacheSize: 3 });
  for (let i = 0n; i < 3n; i++) assert.equal(feed(request(key, i)).replies.length, 1);
  const { replies, events } = feed(request(key, 100n));
  assert.equal(replies.length, 0);
  assert.ok(events.some((e) => e.event === 'rejected' && e.reason === 'cache-full'));
  assert.equal(core.replayEntries, 3);
});

test('rate limit (plain and sealed): excess dropped and counted, per source address', () => {
  const { core, feed, advance } = harness({ rateLimit: 2, rateLimitBurst: 2 });
  const answered = (from: Endpoint = CLIENT): number => feed(Buffer.from('x'), from).replies.length;
  assert.equal(answered() + answered() + answered(), 2);
  assert.equal(answered({ address: CLIENT.address, port: 1 }), 0, 'another port, same address');
  assert.equal(answered({ address: '192.0.2.11', port: 1 }), 1, 'another address');
  advance(500);
  assert.equal(answered(), 1, 'one token after 0.5 s at 2/s');
  assert.equal(core.counters.rateLimited, 2);
  assert.equal(core.info.rateLimit, 2);

  const key = SealKey.generate();
  const s = harness({ key, rateLimit: 1, rateLimitBurst: 1 });
  assert.equal(s.feed(request(key, 1n)).replies.length, 1);
  const limited = s.feed(request(key, 2n));
  assert.equal(limited.replies.length, 0);
  assert.ok(limited.events.some((e) => e.event === 'rate-limited'));
  // The limited request was still remembered: a copy is a replay, a retransmission is answered later.
  assert.ok(
    s.feed(request(key, 2n)).events.some((e) => e.event === 'rejected' && e.reason === 'replay'),
  );
  s.advance(1000);
  assert.equal(s.feed(request(key, 2n, 2, T0 + 1000)).replies.length, 1);
  // Forged datagrams do not use up a source's tokens: nothing is sent to them.
  s.advance(1000);
  for (let i = 0; i < 10; i++) s.feed(Buffer.from('forged'));
  assert.equal(s.feed(request(key, 3n, 1, T0 + 2000)).replies.length, 1);
});

test('memory: replay cache and rate-limit table stay bounded under many IDs and sources', () => {
  const key = SealKey.generate();
  const { core, feed, advance } = harness({
    key,
    replayCacheSize: 500,
    rateLimit: 5,
    rateLimitSources: 300,
  });
  let maxReplay = 0;
  let maxSources = 0;
  for (let i = 0; i < 20_000; i++) {
    if (i % 100 === 0) advance(10);
    const from = { address: `10.0.${(i >> 8) & 255}.${i & 255}`, port: 1000 + (i % 50) };
    feed(request(key, BigInt(i) + 1_000_000n, 1, T0 + Math.floor(i / 10)), from);
    maxReplay = Math.max(maxReplay, core.replayEntries);
    maxSources = Math.max(maxSources, core.rateLimitEntries);
  }
  assert.equal(maxReplay, 500);
  assert.equal(maxSources, 300);
  assert.equal(core.counters.received, 20_000);
  assert.equal(
    core.counters.replied + core.counters.rejected + core.counters.rateLimited,
    20_000,
    'every datagram accounted for',
  );
});

test('property: no batch of random or mutated datagrams makes the core throw', () => {
  const key = SealKey.generate();
  const { core } = harness({ key, rateLimit: 100 });
  const valid = request(key, 5n);
  const mutated = fc.tuple(fc.nat(valid.length * 8 - 1), fc.nat(valid.length)).map(([bit, cut]) => {
    const d = Buffer.from(valid.subarray(0, Math.max(cut, 1)));
    const i = bit % (d.length * 8);
    d[i >> 3] = (d[i >> 3] ?? 0) ^ (1 << (i & 7));
    return d;
  });
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated), { maxLength: 64 }),
      (datagrams) => {
        const replies: Reply[] = [];
        core.handleBatch(
          datagrams.map((data) => ({ data, from: CLIENT })),
          TIME,
          replies,
          [],
        );
        assert.equal(replies.length, 0);
      },
    ),
    { numRuns: 300 },
  );
});

test('sealed: an authentic request with attempt 0 is malformed: no reply, no throw', () => {
  const key = SealKey.generate();
  const { core, feed } = harness({ key });
  const data = sealedWithAttemptZero(key, 99n, T0);
  assert.deepEqual(openDatagram(key, data), { ok: false, reason: 'malformed' });
  const { replies, events } = feed(data);
  assert.equal(replies.length, 0);
  assert.deepEqual(
    events.map((e) => (e.event === 'rejected' ? e.reason : e.event)),
    ['malformed'],
  );
  assert.equal(core.counters.rejectedBy.malformed, 1);
  // The same ID with a real attempt is still new: the malformed copy was not remembered.
  const ok = sealDatagram(key, {
    type: SealedType.REQUEST,
    id: 99n,
    timeMs: T0,
    attempt: 1,
    body: Buffer.from('hello'),
  });
  assert.equal(feed(ok).replies.length, 1);
});

test('property: authentic datagrams with any fields (a key holder’s) never make the core throw', () => {
  const key = SealKey.generate();
  const { core } = harness({ key, rateLimit: 1_000_000 });
  const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
  // Times near the server's clock as often as anywhere in the u64 range.
  const near = fc.integer({ min: -60_000, max: 60_000 }).map((d) => T0 + d);
  const time = fc.oneof(
    fc.tuple(u32, u32),
    near.map((t) => [Math.floor(t / 2 ** 32), t % 2 ** 32] as [number, number]),
  );
  const fields = fc.record({
    type: fc.oneof(fc.constant(SealedType.REQUEST), fc.integer({ min: 0, max: 255 })),
    id: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 3n })),
    time,
    attempt: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffff })),
    body: fc.uint8Array({ maxLength: 100 }),
  });
  fc.assert(
    fc.property(fc.array(fields, { minLength: 1, maxLength: 16 }), (batch) => {
      const datagrams = batch.map(({ time: [timeHi, timeLo], ...f }) =>
        sealByHand(key, { ...f, timeHi, timeLo }),
      );
      const replies: Reply[] = [];
      const events: CoreEvent[] = [];
      core.handleBatch(
        datagrams.map((data) => ({ data, from: CLIENT })),
        TIME,
        replies,
        events,
      );
      // Every reply is an authentic sealed reply to a request of attempt ≥ 1.
      for (const r of replies) {
        const opened = openDatagram(key, r.data);
        assert.ok(opened.ok && opened.message.type === SealedType.REPLY);
        assert.ok(opened.message.attempt >= 1);
      }
    }),
    { numRuns: 300 },
  );
});

test('options that need a key or a rate limit are refused without one', () => {
  assert.throws(() => new ServerCore({ windowMs: 1000 }), RangeError);
  assert.throws(() => new ServerCore({ replayCacheSize: 10 }), RangeError);
  assert.throws(() => new ServerCore({ rateLimitBurst: 10 }), RangeError);
  assert.throws(() => new ServerCore({ rateLimit: -1 }), RangeError);
});

test('a key that is not a SealKey is refused before any socket opens (both reply paths)', async () => {
  for (const key of [Buffer.alloc(32), 'a key', { id: 'x' }, null]) {
    assert.throws(
      () => new ServerCore({ key: key as unknown as SealKey }),
      /key must be a SealKey/,
    );
    for (const perDatagramEvents of [true, false])
      await assert.rejects(
        createServer({ host: '127.0.0.1', key: key as unknown as SealKey, perDatagramEvents }),
        /key must be a SealKey/,
      );
  }
});
