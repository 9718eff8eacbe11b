/** The Gilbert–Elliott burst-loss model: transitions, the stationary loss and the burst length. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GilbertElliott, stationaryLoss } from '../src/impair/gilbert-elliott.js';
import { seededRng, type Rng } from '../src/rng.js';

/** An rng that returns the given draws in order. */
function scripted(draws: number[]): Rng {
  let i = 0;
  return () => {
    const v = draws[i++];
    if (v === undefined) throw new Error('out of draws');
    return v;
  };
}

test('two draws per datagram: loss in the current state, then the transition', () => {
  // Good: loss draw (lossGood 0 → kept), transition draw 0.01 < p → Bad.
  // Bad: loss draw 0.99 < lossBad 1 → lost; transition draw 0.9 ≥ r → stays Bad.
  // Bad: lost; transition 0.1 < r → Good.  Good: kept; 0.5 ≥ p → stays Good.
  const ge = new GilbertElliott(
    { p: 0.05, r: 0.25 },
    scripted([0.3, 0.01, 0.99, 0.9, 0.5, 0.1, 0.2, 0.5]),
  );
  assert.equal(ge.state, 'good');
  assert.deepEqual([ge.lose(), ge.lose(), ge.lose(), ge.lose()], [false, true, true, false]);
  assert.equal(ge.state, 'good');
});

test('long-run loss p/(p+r) and mean burst length 1/r', () => {
  // p = 0.05, r = 0.25: π(Bad) = 1/6. The chain's loss count is not binomial: its variance is
  // n·π(1−π)·(1+λ)/(1−λ) with λ = 1−p−r = 0.7, so over 200 000 datagrams σ(rate) ≈ 0.002;
  // ±0.012 is 6σ. Bursts are geometric (mean 4, σ ≈ 3.46) and ≈ 8 300 of them: SE ≈ 0.04, ±0.25 > 6 SE.
  const ge = new GilbertElliott({ p: 0.05, r: 0.25 }, seededRng(21));
  const n = 200_000;
  let lostCount = 0;
  let bursts = 0;
  let prev = false;
  for (let i = 0; i < n; i++) {
    const l = ge.lose();
    if (l) lostCount++;
    if (l && !prev) bursts++;
    prev = l;
  }
  const rate = lostCount / n;
  assert.ok(Math.abs(rate - 1 / 6) < 0.012, `loss rate ${rate}`);
  assert.ok(Math.abs(stationaryLoss({ p: 0.05, r: 0.25 }) - 1 / 6) < 1e-12);
  const meanBurst = lostCount / bursts;
  assert.ok(Math.abs(meanBurst - 4) < 0.25, `mean burst ${meanBurst}`);
});

test('with 1−h and 1−k the loss is lossGood·π(Good) + lossBad·π(Bad)', () => {
  const params = { p: 0.1, r: 0.3, lossBad: 0.5, lossGood: 0.02 };
  // π(Bad) = 0.25: 0.02·0.75 + 0.5·0.25 = 0.14. Over 200 000 datagrams the standard error is
  // well under 0.002 (λ = 0.6); ±0.01 is a wide bound.
  const expected = 0.02 * 0.75 + 0.5 * 0.25;
  assert.ok(Math.abs(stationaryLoss(params) - expected) < 1e-12);
  const ge = new GilbertElliott(params, seededRng(22));
  let lostCount = 0;
  for (let i = 0; i < 200_000; i++) if (ge.lose()) lostCount++;
  assert.ok(Math.abs(lostCount / 200_000 - expected) < 0.01, `rate ${lostCount / 200_000}`);
});

test('invalid parameters are RangeErrors naming them', () => {
  assert.throws(() => new GilbertElliott({ p: 1.2, r: 0.5 }, Math.random), /lossBurst\.p/);
  assert.throws(() => new GilbertElliott({ p: 0.1, r: -1 }, Math.random), /lossBurst\.r/);
  assert.throws(() => new GilbertElliott({ p: 0.1, r: 0 }, Math.random), /never recovers/);
});
