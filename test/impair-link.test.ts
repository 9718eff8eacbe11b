/**
 * One direction of the impaired path (impair/link.ts) on a simulated clock: what comes out,
 * when, and in which order — delay, rate, queue limit, blackout, reordering, duplication.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImpairmentSpec } from '../src/impair.js';
import { Link, type LinkEvent } from '../src/impair/link.js';
import { seededRng } from '../src/rng.js';

interface Out {
  t: number;
  seq: number;
  copy: boolean;
  data: Uint8Array;
  delayMs: number;
}

/** Feeds `arrivals` to a link on a simulated clock and returns what came out, and the events. */
function simulate(
  spec: ImpairmentSpec,
  arrivals: { t: number; data: Uint8Array }[],
  seed = 1,
): { out: Out[]; events: LinkEvent<number>[]; link: Link<number> } {
  const link = new Link<number>(spec, { rng: seededRng(seed), startMs: 0 });
  const out: Out[] = [];
  const events: LinkEvent<number>[] = [];
  const onEvent = (e: LinkEvent<number>): number => events.push(e);
  let i = 0;
  for (;;) {
    const arrival = arrivals[i];
    const due = link.nextDueAt();
    if (due !== undefined && (arrival === undefined || due <= arrival.t)) {
      link.takeDue(due, (d) => out.push({ t: due, ...d }), onEvent);
    } else if (arrival !== undefined) {
      link.takeDue(arrival.t, (d) => out.push({ t: arrival.t, ...d }), onEvent);
      link.submit(arrival.data, i, arrival.t, onEvent);
      i++;
    } else break;
  }
  return { out, events, link };
}

const bytes = (n: number, fill = 0): Uint8Array => new Uint8Array(n).fill(fill);
const every = (count: number, stepMs: number, size = 100): { t: number; data: Uint8Array }[] =>
  Array.from({ length: count }, (_, k) => ({ t: k * stepMs, data: bytes(size, k & 0xff) }));

test('a clean link forwards everything at once, in order', () => {
  const { out, link } = simulate({}, every(10, 5));
  assert.deepEqual(
    out.map((o) => [o.t, o.seq, o.delayMs]),
    Array.from({ length: 10 }, (_, k) => [k * 5, k + 1, 0]),
  );
  assert.equal(link.counters.forwarded, 10);
  assert.equal(link.counters.queued, 0);
});

test('a fixed delay delays every datagram by exactly that much', () => {
  const { out, link } = simulate({ delayMs: 40 }, every(20, 3));
  assert.deepEqual(
    out.map((o) => o.t),
    Array.from({ length: 20 }, (_, k) => k * 3 + 40),
  );
  assert.ok(out.every((o) => o.delayMs === 40));
  assert.equal(link.counters.delayTotalMs / link.counters.forwarded, 40);
});

test('rate limiting holds the byte rate, and the queue limit drops the excess', () => {
  // 80 kbit/s = 10 000 bytes/s: 1000-byte datagrams leave every 100 ms. 50 arrive at once;
  // the first leaves at once, 20 wait (the limit), the other 29 are dropped as queue-full.
  const { out, events, link } = simulate(
    { rateBitsPerSecond: 80_000, queueLimit: 20 },
    Array.from({ length: 50 }, () => ({ t: 0, data: bytes(1000) })),
  );
  assert.deepEqual(
    out.map((o) => o.t),
    Array.from({ length: 21 }, (_, k) => k * 100),
  );
  assert.equal(link.counters.queueDrops, 29);
  assert.equal(link.counters.queuePeak, 20);
  assert.equal(events.filter((e) => e.kind === 'lost' && e.reason === 'queue-full').length, 29);
  // Bytes per second over the run: 21 000 bytes between t = 0 and the moment the last one
  // finishes (2000 + 100 ms) is exactly the rate.
  const bytesOut = out.reduce((a, o) => a + o.data.length, 0);
  assert.equal(bytesOut / ((out.at(-1)?.t ?? 0) + 100) / 1e-3, 10_000);
});

test('a steady stream faster than the rate is paced to the rate, then the queue fills', () => {
  // 2000 bytes/s offered (a 200-byte datagram every 100 ms) into 8 kbit/s =
  // 1000 bytes/s: the link carries exactly 1000 bytes/s; the queue grows to its limit of 5.
  const { out, link } = simulate({ rateBitsPerSecond: 8000, queueLimit: 5 }, every(100, 100, 200));
  const gaps = out.slice(1).map((o, k) => o.t - (out[k]?.t ?? 0));
  assert.ok(
    gaps.every((g) => g >= 200 - 1e-9),
    'never faster than 200 ms per 200 bytes',
  );
  const spanS = ((out.at(-1)?.t ?? 0) - (out[0]?.t ?? 0)) / 1000;
  const rate = ((out.length - 1) * 200) / spanS;
  assert.ok(Math.abs(rate - 1000) < 1e-6, `rate ${rate} bytes/s`);
  assert.ok(link.counters.queueDrops > 0);
  assert.equal(link.counters.queuePeak, 5);
});

test('the queue limit bounds delayed datagrams too (netem’s limit)', () => {
  const { link } = simulate({ delayMs: 100, queueLimit: 5 }, every(10, 1));
  assert.equal(link.counters.forwarded, 5);
  assert.equal(link.counters.queueDrops, 5);
});

test('a blackout drops exactly the datagrams of its window', () => {
  // One datagram a ms for 3 s; the window 1.0–2.0 s holds arrivals 1000 … 1999, seq 1001 … 2000.
  const { out, events, link } = simulate(
    { blackouts: [{ fromMs: 1000, toMs: 2000 }] },
    every(3000, 1, 10),
  );
  const lostSeqs = events.filter((e) => e.kind === 'lost').map((e) => e.seq);
  assert.deepEqual(
    lostSeqs,
    Array.from({ length: 1000 }, (_, k) => 1001 + k),
  );
  assert.equal(out.length, 2000);
  assert.equal(link.counters.lostBlackout, 1000);
  assert.ok(out.every((o) => o.t < 1000 || o.t >= 2000));
});

test('nothing crosses during a blackout: a datagram due inside the window is dropped too', () => {
  // Arrivals every 10 ms from 0 to 390 ms with a 50 ms delay; window 200–300 ms. The ones that
  // arrive at 150…190 would leave at 200…240, inside it.
  const { out, events } = simulate(
    { delayMs: 50, blackouts: [{ fromMs: 200, toMs: 300 }] },
    every(40, 10, 10),
  );
  assert.ok(out.every((o) => o.t < 200 || o.t >= 300));
  const lostAt = events
    .filter((e) => e.kind === 'lost')
    .map((e) => (e.seq - 1) * 10)
    .sort((a, b) => a - b);
  assert.deepEqual(
    lostAt,
    [150, 160, 170, 180, 190, 200, 210, 220, 230, 240, 250, 260, 270, 280, 290],
  );
});

test('reorder: every held-back datagram comes out after a later one', () => {
  const { out, events, link } = simulate({ reorder: 0.3 }, every(200, 1));
  const order = out.map((o) => o.seq);
  assert.deepEqual(
    [...order].sort((a, b) => a - b),
    Array.from({ length: 200 }, (_, k) => k + 1),
  );
  const held = events.filter((e) => e.kind === 'reordered').map((e) => e.seq);
  // Binomial(200, 0.3): mean 60, σ ≈ 6.5; 20 is > 6σ below.
  assert.ok(held.length > 20, `held back ${held.length}`);
  assert.equal(link.counters.reordered, held.length);
  for (const s of held) {
    if (s > 190) continue; // near the end nothing may come behind it before its hold runs out
    const pos = order.indexOf(s);
    assert.ok(
      order.slice(0, pos).some((x) => x > s),
      `datagram ${s} was not overtaken`,
    );
  }
  assert.ok(link.counters.outOfOrder >= held.filter((s) => s <= 190).length);
});

test('reorder with a gap of 3: exactly three later datagrams overtake', () => {
  // Scripted draws, one per datagram (only reorder is on): the first is held, the rest are not.
  const draws = [0, 0.9, 0.9, 0.9, 0.9];
  const link = new Link<number>(
    { reorder: 0.5, reorderGap: 3, reorderHoldMs: 1000 },
    { rng: () => draws.shift() ?? 0.9 },
  );
  const order: number[] = [];
  for (let t = 0; t < 5; t++) {
    link.submit(bytes(10), t, t, () => undefined);
    link.takeDue(
      t,
      (d) => order.push(d.seq),
      () => undefined,
    );
  }
  assert.deepEqual(order, [2, 3, 4, 1, 5]);
  assert.equal(link.counters.outOfOrder, 1);
});

test('a held-back datagram with nothing behind it goes out when its hold time runs out', () => {
  const { out } = simulate({ reorder: 1, reorderHoldMs: 30, delayMs: 5 }, [
    { t: 0, data: bytes(10) },
  ]);
  assert.deepEqual(
    out.map((o) => [o.t, o.seq]),
    [[35, 1]],
  );
});

test('duplicates come out as a second copy with the same sequence number', () => {
  const { out, events, link } = simulate({ duplicate: 0.2 }, every(500, 1), 4);
  const copies = out.filter((o) => o.copy);
  assert.equal(copies.length, link.counters.duplicated);
  assert.equal(events.filter((e) => e.kind === 'duplicated').length, copies.length);
  for (const c of copies) {
    const orig = out.find((o) => o.seq === c.seq && !o.copy);
    assert.ok(orig && Buffer.compare(Buffer.from(orig.data), Buffer.from(c.data)) === 0);
  }
  assert.equal(out.length, 500 + copies.length);
});

test('corrupted copies differ from the input by exactly the reported bit', () => {
  const arrivals = every(300, 1, 50);
  const { out, events } = simulate({ corrupt: 0.3 }, arrivals, 9);
  const corrupted = events.filter((e) => e.kind === 'corrupted');
  assert.ok(corrupted.length > 30);
  for (const e of corrupted) {
    if (e.kind !== 'corrupted') continue;
    const o = out.find((x) => x.seq === e.seq);
    const input = arrivals[e.seq - 1]?.data ?? new Uint8Array();
    assert.ok(o);
    const diff = Buffer.from(o.data).map((b, i) => b ^ (input[i] ?? 0));
    assert.equal(
      diff.reduce((a, b) => a + (b === 0 ? 0 : 1), 0),
      1,
    );
    assert.equal(diff[e.bit >> 3], 0x80 >> (e.bit & 7));
  }
});

test('jitter larger than the spacing reorders, as netem does, and is counted', () => {
  const { out, link } = simulate({ delayMs: 20, jitterMs: 15 }, every(200, 2));
  assert.equal(out.length, 200);
  assert.ok(link.counters.outOfOrder > 0);
  assert.ok(out.every((o) => o.delayMs >= 5 && o.delayMs <= 35));
});

test('the same seed and input give exactly the same output and events', () => {
  const spec: ImpairmentSpec = {
    loss: 0.1,
    duplicate: 0.1,
    reorder: 0.1,
    corrupt: 0.1,
    delayMs: 10,
    jitterMs: 5,
    rateBitsPerSecond: 1e6,
  };
  const a = simulate(spec, every(300, 1), 77);
  const b = simulate(spec, every(300, 1), 77);
  assert.deepEqual(a.out, b.out);
  assert.deepEqual(a.events, b.events);
  const c = simulate(spec, every(300, 1), 78);
  assert.notDeepEqual(a.events, c.events);
});
