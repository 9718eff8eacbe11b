import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_REPLAY_CAPACITY, RateLimiter, ReplayCache } from '../src/index.js';

const T0 = 1_800_000_000_000;
const REPLY = new Uint8Array([1, 2, 3]);

test('replay cache: window, replay, retransmission', () => {
  const c = new ReplayCache({ windowMs: 30_000, capacity: 10 });
  assert.equal(c.check(1n, T0 - 30_001, 1, T0).kind, 'stale', 'too old');
  assert.equal(c.check(1n, T0 + 30_001, 1, T0).kind, 'stale', 'too far in the future');
  assert.equal(c.check(1n, T0 - 30_000, 1, T0).kind, 'new', 'the edge of the window is inside');
  assert.equal(c.check(1n, T0, 1, T0).kind, 'new');
  c.remember(1n, T0, 1, REPLY);
  assert.equal(c.check(1n, T0, 1, T0 + 5).kind, 'replay', 'the same transmission again');
  const r = c.check(1n, T0 + 100, 2, T0 + 100);
  assert.equal(r.kind, 'retransmission');
  assert.deepEqual(
    r.kind === 'retransmission' && [...r.reply],
    [...REPLY],
    'the cached sealed reply',
  );
  assert.equal(c.check(1n, T0, 1, T0 + 200).kind, 'replay', 'a copy of attempt 1 after attempt 2');
  assert.equal(c.check(1n, T0 + 100, 2, T0 + 200).kind, 'replay', 'a copy of attempt 2');
  assert.equal(c.check(1n, T0 + 300, 3, T0 + 300).kind, 'retransmission');
  assert.equal(c.size, 1);
});

test('replay cache: an ID is remembered exactly as long as a copy could pass the window', () => {
  const c = new ReplayCache({ windowMs: 1000, capacity: 10 });
  c.remember(7n, T0, 1, REPLY);
  // At T0 + 1000 the datagram (time T0) is still fresh, so the ID must still be known.
  assert.equal(c.check(7n, T0, 1, T0 + 1000).kind, 'replay');
  // One ms later a copy is stale whatever the cache holds; the entry may go.
  assert.equal(c.check(7n, T0, 1, T0 + 1001).kind, 'stale');
  assert.equal(c.check(8n, T0 + 1001, 1, T0 + 1001).kind, 'new');
  assert.equal(c.size, 0, 'swept');
});

test('replay cache: an expired ID not yet swept is new again, on an idle server too', () => {
  const c = new ReplayCache({ windowMs: 2000, capacity: 10 });
  c.remember(9n, T0, 1, REPLY);
  c.remember(10n, T0 + 1, 1, REPLY);
  // No other request in between: nothing has swept the entry, yet every copy of it is stale now.
  assert.equal(c.check(9n, T0 + 4500, 1, T0 + 4500).kind, 'new', 'the ID reused after its window');
  const again = new Uint8Array([4, 5]);
  c.remember(9n, T0 + 4500, 1, again);
  assert.equal(c.size, 2, 'in the old entry’s place, not beside it');
  assert.equal(c.check(9n, T0 + 4500, 1, T0 + 4600).kind, 'replay', 'a copy of the new request');
  const r = c.check(9n, T0 + 4700, 2, T0 + 4700);
  assert.deepEqual(r.kind === 'retransmission' && [...r.reply], [4, 5], 'the new reply');
  // A long reply (kept apart from the slab) is replaced as well.
  const long = new Uint8Array(300).fill(6);
  c.remember(11n, T0 + 4700, 1, long);
  assert.equal(c.check(11n, T0 + 9000, 1, T0 + 9000).kind, 'new');
  c.remember(11n, T0 + 9000, 1, REPLY);
  const r2 = c.check(11n, T0 + 9001, 2, T0 + 9001);
  assert.deepEqual(r2.kind === 'retransmission' && [...r2.reply], [...REPLY]);
});

test('replay cache: full of fresh IDs it fails closed; it frees up as they expire', () => {
  const c = new ReplayCache({ windowMs: 1000, capacity: 100 });
  for (let i = 0; i < 100; i++) {
    assert.equal(c.check(BigInt(i), T0, 1, T0).kind, 'new');
    c.remember(BigInt(i), T0, 1, REPLY);
  }
  assert.equal(c.check(1000n, T0, 1, T0 + 10).kind, 'cache-full');
  c.remember(1000n, T0, 1, REPLY); // ignored: never grows past capacity
  assert.equal(c.size, 100);
  assert.equal(c.check(5n, T0, 1, T0 + 10).kind, 'replay', 'still remembers every ID it holds');
  assert.equal(c.check(1000n, T0 + 1500, 1, T0 + 1500).kind, 'new', 'expired entries freed');
});

test('memory: the replay cache never holds more than its capacity, under 200,000 distinct IDs', () => {
  const capacity = 5000;
  const c = new ReplayCache({ windowMs: 30_000, capacity });
  let accepted = 0;
  let full = 0;
  let max = 0;
  // 200,000 requests at 10,000 per second of fake time: 20 s, all within one window.
  for (let i = 0; i < 200_000; i++) {
    const now = T0 + i / 10;
    const id = (BigInt(i) * 0x9e3779b97f4a7c15n) % 2n ** 64n;
    const sent = now + ((i * 7919) % 40_000) - 20_000; // clients' clocks differ by up to ±20 s
    const v = c.check(id, sent, 1, now);
    if (v.kind === 'new') {
      c.remember(id, sent, 1, REPLY);
      accepted++;
    } else if (v.kind === 'cache-full') full++;
    max = Math.max(max, c.size);
  }
  assert.equal(max, capacity, 'filled up to, never beyond, the capacity');
  assert.ok(accepted >= capacity, 'expired entries made room for new ones');
  assert.equal(accepted + full, 200_000, 'every other request was refused (fail closed)');
  // Entries arrived out of expiry order; once they are all stale, a full sweep frees them all.
  const later = T0 + 100_000;
  assert.equal(c.check(1n, later, 1, later).kind, 'new');
  assert.equal(c.size, 0);
});

test('replay cache: a retransmission keeps its ID past the first expiry; then it goes', () => {
  const c = new ReplayCache({ windowMs: 1000, capacity: 10 });
  c.remember(1n, T0, 1, REPLY);
  c.remember(2n, T0, 1, REPLY);
  assert.equal(c.check(1n, T0 + 900, 2, T0 + 900).kind, 'retransmission'); // now lives to T0 + 1900
  assert.equal(c.check(3n, T0 + 1001, 1, T0 + 1001).kind, 'new');
  assert.equal(c.check(2n, T0, 1, T0 + 1001).kind, 'stale', 'a copy of ID 2 is stale anyway');
  assert.equal(c.check(1n, T0 + 900, 2, T0 + 1500).kind, 'replay', 'still known at T0 + 1500');
  assert.equal(c.check(4n, T0 + 1901, 1, T0 + 1901).kind, 'new');
  assert.equal(c.size, 0, 'gone once a copy of its latest datagram is stale');
});

test('replay cache: each ID gets its own reply back, short or long, after slots are reused', () => {
  const c = new ReplayCache({ windowMs: 1000, capacity: 3000 });
  const reply = (id: number): Uint8Array =>
    Uint8Array.from(
      { length: id % 7 === 0 ? 300 : 20 + (id % 100) },
      (_, i) => (id * 31 + i) & 255,
    );
  // Two generations of 2,000 IDs: the second reuses the first's slots once they have expired.
  for (const base of [0, 10_000]) {
    const now = T0 + (base === 0 ? 0 : 5000);
    for (let id = base; id < base + 2000; id++) {
      assert.equal(c.check(BigInt(id), now, 1, now).kind, 'new');
      c.remember(BigInt(id), now, 1, reply(id));
    }
    for (let id = base; id < base + 2000; id += 97) {
      const r = c.check(BigInt(id), now, 2 + (base === 0 ? 0 : 1), now);
      assert.equal(r.kind, 'retransmission');
      assert.deepEqual(r.kind === 'retransmission' && [...r.reply], [...reply(id)], `ID ${id}`);
    }
  }
  assert.equal(c.size, 2000, 'the first generation expired');
});

test('rate limiter: burst, then the average rate', () => {
  const r = new RateLimiter({ ratePerSecond: 10, burst: 3 });
  const allowed = (n: number, now: number): number => {
    let k = 0;
    for (let i = 0; i < n; i++) if (r.allow('192.0.2.1', now)) k++;
    return k;
  };
  assert.equal(allowed(10, 0), 3, 'the burst');
  assert.equal(allowed(10, 50), 0, '50 ms later: half a token');
  assert.equal(allowed(10, 100), 1, '100 ms: one token');
  assert.equal(allowed(10, 1100), 3, 'refilled to the burst, not beyond');
  assert.equal(allowed(1, 0), 0, 'a clock going back refills nothing');
  assert.ok(r.allow('192.0.2.2', 0), 'another source has its own bucket');
  const one = new RateLimiter({ ratePerSecond: 1, burst: 1 });
  assert.ok(one.allow('::ffff:192.0.2.3', 0));
  assert.equal(one.allow('192.0.2.3', 0), false, 'IPv4-mapped counts as the IPv4 address');
});

test('memory: the rate-limit table never holds more than maxSources, under 100,000 sources', () => {
  const r = new RateLimiter({ ratePerSecond: 1, maxSources: 1000 });
  let max = 0;
  for (let i = 0; i < 100_000; i++) {
    r.allow(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i);
    max = Math.max(max, r.size);
  }
  assert.equal(max, 1000);
  assert.equal(r.evictions, 99_000);
  // A source that keeps talking stays in the table (least recently used goes first).
  const r2 = new RateLimiter({ ratePerSecond: 1, burst: 1, maxSources: 10 });
  assert.ok(r2.allow('victim', 0));
  for (let i = 0; i < 100; i++) {
    r2.allow(`other-${i}`, 0);
    if (i % 5 === 0) assert.equal(r2.allow('victim', 0), false, 'the victim stays limited');
  }
});

test('bad bounds throw RangeError', () => {
  assert.throws(() => new ReplayCache({ capacity: 0 }), RangeError);
  // The upper bound keeps memory a number (~3.2 GB at most) and the reply slab one typed array.
  assert.throws(() => new ReplayCache({ capacity: MAX_REPLAY_CAPACITY + 1 }), {
    message: 'capacity must be an integer from 1 to 16777216',
  });
  assert.equal(new ReplayCache({ capacity: MAX_REPLAY_CAPACITY }).capacity, 16_777_216);
  assert.throws(() => new ReplayCache({ windowMs: 0 }), RangeError);
  assert.throws(() => new RateLimiter({ ratePerSecond: 0 }), RangeError);
  assert.throws(() => new RateLimiter({ ratePerSecond: 1, maxSources: 0 }), RangeError);
  assert.throws(() => new RateLimiter({ ratePerSecond: 1, burst: 0.5 }), RangeError);
});

test('replay cache: requests sealed before the server started are stale (a restart forgets IDs)', () => {
  const c = new ReplayCache({ windowMs: 30_000, notBeforeMs: T0 });
  assert.equal(c.check(1n, T0 - 1, 1, T0 + 10).kind, 'stale');
  assert.equal(c.check(1n, T0, 1, T0 + 10).kind, 'new');
});
