/**
 * The per-datagram decisions (src/impair.ts), without sockets or clocks: exact seeded
 * sequences, and statistical checks whose bounds are stated beside each assertion.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Impairment, checkImpairments, flipBit, type Decision } from '../src/impair.js';
import { seededRng } from '../src/rng.js';

const lost = (d: Decision): boolean => d.fate === 'lost';

test('loss: datagram n is lost exactly when the n-th draw of the seeded rng is below P', () => {
  const im = new Impairment({ loss: 0.3 }, seededRng(42));
  const replay = seededRng(42);
  for (let i = 0; i < 1000; i++)
    assert.equal(lost(im.decide(100, i)), replay() < 0.3, `datagram ${i}`);
});

test('seed 42 gives this exact sequence (a change in the draw order is a visible change)', () => {
  const im = new Impairment({ loss: 0.3 }, seededRng(42));
  const fates = Array.from({ length: 20 }, () => (lost(im.decide(10, 0)) ? 1 : 0)).join('');
  assert.equal(fates, '00001010001000100010');
  const rich = new Impairment(
    { loss: 0.3, duplicate: 0.1, delayMs: 20, jitterMs: 10, corrupt: 0.2 },
    seededRng(42),
  );
  const got = Array.from({ length: 12 }, (_, i) => {
    const d = rich.decide(100, i);
    return d.fate === 'lost'
      ? 'L'
      : d.copies
          .map((c) => c.delayMs.toFixed(2) + (c.corruptBit === undefined ? '' : `c${c.corruptBit}`))
          .join('+');
  });
  assert.deepEqual(got, [
    '27.05',
    'L',
    '15.00',
    '13.95',
    '10.08',
    '21.85c213+11.24c626',
    '13.46+19.75',
    '10.75c445',
    '22.91',
    '27.17',
    'L',
    '28.56c754',
  ]);
});

test('the decisions of datagram n do not depend on when it arrives (outside blackouts)', () => {
  const spec = { loss: 0.2, duplicate: 0.2, reorder: 0.2, corrupt: 0.2, delayMs: 5, jitterMs: 3 };
  const a = new Impairment(spec, seededRng(7));
  const b = new Impairment(spec, seededRng(7));
  for (let i = 0; i < 500; i++) assert.deepEqual(a.decide(64, i), b.decide(64, i * 37 + 5));
});

test('a blackout consumes the same draws, so the datagrams after it get the same decisions', () => {
  const spec = { loss: 0.3, duplicate: 0.3 };
  const plain = new Impairment(spec, seededRng(3));
  const dark = new Impairment({ ...spec, blackouts: [{ fromMs: 100, toMs: 200 }] }, seededRng(3));
  for (let t = 0; t < 300; t++) {
    const p = plain.decide(10, t);
    const d = dark.decide(10, t);
    if (t >= 100 && t < 200) assert.deepEqual(d, { fate: 'lost', reason: 'blackout' });
    else assert.deepEqual(d, p);
  }
});

test('loss rate over 10 000 datagrams within a binomial bound', () => {
  // Binomial(n = 10 000, p = 0.3): mean 3000, σ = √(n p (1−p)) ≈ 45.8. ±6σ = [2725, 3275];
  // a correct implementation falls outside with probability < 2·10⁻⁹ (and the seed is fixed).
  const im = new Impairment({ loss: 0.3 }, seededRng(1));
  let n = 0;
  for (let i = 0; i < 10_000; i++) if (lost(im.decide(100, i))) n++;
  assert.ok(n >= 2725 && n <= 3275, `lost ${n}`);
});

test('duplicate rate within a binomial bound, and a duplicate is a second copy', () => {
  // Binomial(10 000, 0.1): mean 1000, σ = 30; ±6σ = [820, 1180].
  const im = new Impairment({ duplicate: 0.1 }, seededRng(2));
  let n = 0;
  for (let i = 0; i < 10_000; i++) {
    const d = im.decide(100, i);
    assert.equal(d.fate, 'sent');
    if (d.fate === 'sent' && d.copies.length === 2) n++;
  }
  assert.ok(n >= 820 && n <= 1180, `duplicated ${n}`);
});

test('uniform jitter stays in [delay − J, delay + J] with mean delay and σ = J/√3', () => {
  // 10 000 samples of U(40, 60): σ = 10/√3 ≈ 5.77; the mean's standard error is 0.058, so
  // ±0.5 is > 8 SE; the sample σ has SE ≈ σ/√(2n) ≈ 0.04, so ±0.3 is > 7 SE.
  const im = new Impairment({ delayMs: 50, jitterMs: 10 }, seededRng(5));
  const xs: number[] = [];
  for (let i = 0; i < 10_000; i++) {
    const d = im.decide(10, i);
    assert.equal(d.fate, 'sent');
    if (d.fate === 'sent') xs.push(d.copies[0]?.delayMs ?? Number.NaN);
  }
  assert.ok(xs.every((x) => x >= 40 && x <= 60));
  const { mean, sd } = moments(xs);
  assert.ok(Math.abs(mean - 50) < 0.5, `mean ${mean}`);
  assert.ok(Math.abs(sd - 10 / Math.sqrt(3)) < 0.3, `sd ${sd}`);
});

test('normal jitter has mean delay and σ = J; 68 % within ±1σ', () => {
  // 10 000 samples of N(100, 10²): mean SE 0.1 (bound ±0.6 = 6 SE); σ SE ≈ 0.07 (±0.5 > 7 SE);
  // the share within ±σ is Binomial(10 000, 0.6827)/n with SE 0.0047 (±0.03 > 6 SE).
  const im = new Impairment(
    { delayMs: 100, jitterMs: 10, jitterDistribution: 'normal' },
    seededRng(6),
  );
  const xs: number[] = [];
  for (let i = 0; i < 10_000; i++) {
    const d = im.decide(10, i);
    if (d.fate === 'sent') xs.push(d.copies[0]?.delayMs ?? Number.NaN);
  }
  const { mean, sd } = moments(xs);
  assert.ok(Math.abs(mean - 100) < 0.6, `mean ${mean}`);
  assert.ok(Math.abs(sd - 10) < 0.5, `sd ${sd}`);
  const within = xs.filter((x) => Math.abs(x - 100) <= 10).length / xs.length;
  assert.ok(Math.abs(within - 0.6827) < 0.03, `within ±σ ${within}`);
});

test('jitter larger than the delay is clipped at 0: no datagram leaves before it arrived', () => {
  const im = new Impairment(
    { delayMs: 1, jitterMs: 50, jitterDistribution: 'normal' },
    seededRng(9),
  );
  for (let i = 0; i < 2000; i++) {
    const d = im.decide(10, i);
    if (d.fate === 'sent') for (const c of d.copies) assert.ok(c.delayMs >= 0);
  }
});

test('corruption flips exactly one bit, within the datagram, and never touches the input', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer(), (bytes, seed) => {
      const im = new Impairment({ corrupt: 1 }, seededRng(seed));
      const d = im.decide(bytes.length, 0);
      assert.equal(d.fate, 'sent');
      if (d.fate !== 'sent') return;
      const bit = d.copies[0]?.corruptBit;
      assert.ok(bit !== undefined && bit >= 0 && bit < bytes.length * 8);
      const before = Buffer.from(bytes);
      const out = flipBit(bytes, bit);
      assert.deepEqual(Buffer.from(bytes), before, 'input untouched');
      let differing = 0;
      for (let i = 0; i < bytes.length; i++) differing += popcount((out[i] ?? 0) ^ (bytes[i] ?? 0));
      assert.equal(differing, 1);
      assert.equal(((out[bit >> 3] ?? 0) ^ (bytes[bit >> 3] ?? 0)) === 0x80 >> (bit & 7), true);
    }),
    { numRuns: 300 },
  );
});

test('corruption rate within a binomial bound; an empty datagram has no bit to flip', () => {
  // Binomial(10 000, 0.05): mean 500, σ ≈ 21.8; ±6σ = [369, 631].
  const im = new Impairment({ corrupt: 0.05 }, seededRng(11));
  let n = 0;
  for (let i = 0; i < 10_000; i++) {
    const d = im.decide(64, i);
    if (d.fate === 'sent' && d.copies[0]?.corruptBit !== undefined) n++;
  }
  assert.ok(n >= 369 && n <= 631, `corrupted ${n}`);
  const empty = new Impairment({ corrupt: 1 }, seededRng(1)).decide(0, 0);
  assert.deepEqual(empty, {
    fate: 'sent',
    copies: [{ delayMs: 0, corruptBit: undefined }],
    reorder: false,
  });
});

test('reorder decisions within a binomial bound', () => {
  // Binomial(10 000, 0.25): mean 2500, σ ≈ 43.3; ±6σ = [2240, 2760].
  const im = new Impairment({ reorder: 0.25 }, seededRng(12));
  let n = 0;
  for (let i = 0; i < 10_000; i++) {
    const d = im.decide(64, i);
    if (d.fate === 'sent' && d.reorder) n++;
  }
  assert.ok(n >= 2240 && n <= 2760, `reordered ${n}`);
});

test('invalid specs fail at once with an error naming the field', () => {
  const bad: [object, RegExp][] = [
    [{ loss: 1.5 }, /loss/],
    [{ loss: -0.1 }, /loss/],
    [{ delayMs: -1 }, /delayMs/],
    [{ jitterMs: Number.NaN }, /jitterMs/],
    [{ duplicate: 2 }, /duplicate/],
    [{ rateBitsPerSecond: 0 }, /rateBitsPerSecond/],
    [{ queueLimit: 0 }, /queueLimit/],
    [{ reorderGap: 0 }, /reorderGap/],
    [{ blackouts: [{ fromMs: 5, toMs: 5 }] }, /blackout/],
    [{ loss: 0.1, lossBurst: { p: 0.1, r: 0.5 } }, /loss and lossBurst/],
    [{ lossBurst: { p: 0.1, r: 0 } }, /lossBurst\.r/],
    // A depth without a rate, or jitter around no delay, would be ignored or half clipped.
    [{ burstBytes: 16000 }, /burstBytes needs rateBitsPerSecond/],
    [{ jitterMs: 20 }, /jitterMs needs delayMs/],
    [{ jitterMs: 20, delayMs: 0 }, /jitterMs needs delayMs/],
  ];
  for (const [spec, re] of bad)
    assert.throws(() => checkImpairments(spec), re, JSON.stringify(spec));
  assert.throws(() => checkImpairments({ jitterDistribution: 'pareto' as 'normal' }), TypeError);
});

function moments(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, sd };
}

function popcount(v: number): number {
  let n = 0;
  for (let x = v; x; x &= x - 1) n++;
  return n;
}
