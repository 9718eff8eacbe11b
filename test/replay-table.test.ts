import assert from 'node:assert/strict';
import test from 'node:test';
import { ReplayCache, type ReplayCacheOptions, type ReplayVerdict } from '../src/index.js';

/**
 * The replay rules of src/replay.ts written the plain way (a Map in arrival order), as the cache
 * was before it kept its entries in a hash table of its own: the table must give the same
 * verdicts, replies and sizes, including the order-dependent sweeps.
 */
class ModelCache {
  readonly #m = new Map<bigint, { attempt: number; expires: number; reply: Uint8Array }>();
  #nextFull = -Infinity;
  #lastSweep = Number.NaN;
  #reuse: bigint | undefined;
  constructor(
    readonly windowMs: number,
    readonly capacity: number,
    readonly notBeforeMs: number,
  ) {}
  get size(): number {
    return this.#m.size;
  }
  check(id: bigint, timeMs: number, attempt: number, nowMs: number): ReplayVerdict {
    this.#reuse = undefined;
    if (!(Math.abs(nowMs - timeMs) <= this.windowMs) || timeMs < this.notBeforeMs)
      return { kind: 'stale' };
    const e = this.#m.get(id);
    if (e !== undefined && e.expires < nowMs) {
      this.#reuse = id; // expired, not yet swept: a new request, in the entry's place
      return { kind: 'new' };
    }
    if (e !== undefined) {
      if (attempt <= e.attempt) return { kind: 'replay' };
      e.attempt = attempt;
      e.expires = Math.max(e.expires, timeMs + this.windowMs);
      return { kind: 'retransmission', reply: e.reply };
    }
    if (!(nowMs === this.#lastSweep && this.#m.size < this.capacity)) {
      this.#lastSweep = nowMs;
      for (const [k, v] of this.#m) {
        if (v.expires >= nowMs) break;
        this.#m.delete(k);
      }
      if (this.#m.size >= this.capacity && nowMs >= this.#nextFull) {
        this.#nextFull = nowMs + 1000;
        for (const [k, v] of this.#m) if (v.expires < nowMs) this.#m.delete(k);
      }
    }
    return this.#m.size >= this.capacity ? { kind: 'cache-full' } : { kind: 'new' };
  }
  remember(id: bigint, timeMs: number, attempt: number, reply: Uint8Array): void {
    const reuse = this.#reuse === id;
    this.#reuse = undefined;
    if (reuse) {
      // Map.set keeps an existing key's place in the order, as the table keeps the slot's.
      this.#m.set(id, { attempt, expires: timeMs + this.windowMs, reply: Uint8Array.from(reply) });
      return;
    }
    if (this.#m.has(id) || this.#m.size >= this.capacity) return;
    this.#m.set(id, { attempt, expires: timeMs + this.windowMs, reply: Uint8Array.from(reply) });
  }
}

/** A small seeded generator (the test must be reproducible). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

test('replay cache: the same verdicts, replies and sizes as the plain Map model, 300,000 random steps', () => {
  const rnd = lcg(7);
  let steps = 0;
  for (let round = 0; round < 60; round++) {
    const options: Required<ReplayCacheOptions> = {
      windowMs: 1 + Math.floor(rnd() * 200),
      capacity: 1 + Math.floor(rnd() * (round % 3 === 0 ? 3000 : 40)),
      notBeforeMs: 1000,
    };
    const c = new ReplayCache(options);
    const m = new ModelCache(options.windowMs, options.capacity, options.notBeforeMs);
    // Small IDs collide often; full 64-bit ones exercise both words and the sign bit.
    const ids = Array.from({ length: 1 + Math.floor(rnd() * 5000) }, () =>
      rnd() < 0.5
        ? BigInt(Math.floor(rnd() * 100))
        : (BigInt(Math.floor(rnd() * 2 ** 32)) << 32n) | BigInt(Math.floor(rnd() * 2 ** 32)),
    );
    const pick = (): bigint => ids[Math.floor(rnd() * ids.length)] ?? 0n;
    let now = 1000;
    for (let i = 0; i < 5000; i++, steps++) {
      now += Math.floor(rnd() * 3);
      const id = pick();
      const w = options.windowMs;
      const sent = now + Math.floor(rnd() * (2 * w + 10)) - w - 5;
      const attempt = 1 + Math.floor(rnd() * 4);
      const got = c.check(id, sent, attempt, now);
      const want = m.check(id, sent, attempt, now);
      assert.equal(got.kind, want.kind, `round ${round}, step ${i}`);
      if (got.kind === 'retransmission' && want.kind === 'retransmission')
        assert.deepEqual([...got.reply], [...want.reply]);
      if (got.kind === 'new' || rnd() < 0.05) {
        // Now and then remember an ID that was not just checked (the API allows it).
        const other = rnd() < 0.1 ? pick() : id;
        const reply = Uint8Array.from({ length: rnd() < 0.1 ? 200 : 40 }, (_, k) => (i + k) & 255);
        c.remember(other, sent, attempt, reply);
        m.remember(other, sent, attempt, reply);
      }
      assert.equal(c.size, m.size, `round ${round}, step ${i}`);
    }
  }
  assert.equal(steps, 300_000);
});

test('replay cache: checkWords/rememberWords take the ID as uint32 or int32 words, as check/remember take it whole', () => {
  const T0 = 1_700_000_000_000;
  const c = new ReplayCache({ windowMs: 1000, capacity: 10 });
  const id = 0xfedc_ba98_7654_3210n;
  assert.equal(c.checkWords(0xfedcba98, 0x76543210, T0, 1, T0).kind, 'new');
  c.rememberWords(0xfedcba98, 0x76543210, T0, 1, Uint8Array.of(1, 2, 3));
  assert.equal(c.check(id, T0, 1, T0).kind, 'replay', 'the same ID, whole');
  assert.equal(c.checkWords(0xfedcba98 | 0, 0x76543210, T0, 1, T0).kind, 'replay', 'as int32');
  const r = c.check(id, T0 + 1, 2, T0 + 1);
  assert.deepEqual(r.kind === 'retransmission' && [...r.reply], [1, 2, 3]);
  assert.equal(c.checkWords(0x76543210, 0xfedcba98, T0, 1, T0).kind, 'new', 'words swapped');
  assert.equal(c.check(0x76543210n, T0, 1, T0).kind, 'new', 'the high word matters');
  assert.equal(c.size, 1);
});
