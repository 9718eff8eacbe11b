/** The units of the proxy's options (tc-netem's vocabulary) and their display. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeImpairments } from '../src/impair/describe.js';
import {
  formatRate,
  parseBlackout,
  parseBytes,
  parseLossBurst,
  parseMs,
  parseProbability,
  parseRate,
} from '../src/impair/units.js';

test('probabilities: a fraction or a percentage', () => {
  assert.equal(parseProbability('0.3'), 0.3);
  assert.equal(parseProbability('30%'), 0.3);
  assert.equal(parseProbability('0'), 0);
  assert.equal(parseProbability('100%'), 1);
  for (const bad of ['', '1.5', '-0.1', '120%', 'half', '0.3x']) {
    assert.throws(() => parseProbability(bad), RangeError, bad);
  }
});

test('durations: bare numbers are ms, as netem’s delay', () => {
  assert.equal(parseMs('100'), 100);
  assert.equal(parseMs('100ms'), 100);
  assert.equal(parseMs('0.25s'), 250);
  assert.equal(parseMs('500us'), 0.5);
  for (const bad of ['', '-1', '10min', 'soon']) assert.throws(() => parseMs(bad), RangeError, bad);
});

test('rates as tc writes them: bit suffixes in bits, bps suffixes in BYTES per second', () => {
  assert.equal(parseRate('64000'), 64_000);
  assert.equal(parseRate('768kbit'), 768_000);
  assert.equal(parseRate('1mbit'), 1_000_000);
  assert.equal(parseRate('1Mbit'), 1_000_000);
  assert.equal(parseRate('2m'), 2_000_000);
  assert.equal(parseRate('1gbit'), 1e9);
  assert.equal(parseRate('1kibit'), 1024);
  assert.equal(parseRate('1mbps'), 8_000_000);
  assert.equal(parseRate('100bps'), 800);
  for (const bad of ['', '0', '-5mbit', 'fast', '1 furlong']) {
    assert.throws(() => parseRate(bad), RangeError, bad);
  }
  assert.equal(formatRate(768_000), '768 kbit/s');
  assert.equal(formatRate(1.5e6), '1.5 Mbit/s');
  assert.equal(formatRate(2e9), '2 Gbit/s');
  assert.equal(formatRate(300), '300 bit/s');
});

test('sizes, blackout windows and Gilbert–Elliott parameters', () => {
  assert.equal(parseBytes('1500'), 1500);
  assert.equal(parseBytes('16k'), 16_384);
  assert.equal(parseBytes('1mb'), 1_048_576);
  assert.throws(() => parseBytes('lots'), RangeError);
  assert.deepEqual(parseBlackout('2-5'), { fromMs: 2000, toMs: 5000 });
  assert.deepEqual(parseBlackout('0.5 - 1.25'), { fromMs: 500, toMs: 1250 });
  for (const bad of ['5-2', '3-3', '2', '-1-2', 'a-b']) {
    assert.throws(() => parseBlackout(bad), RangeError, bad);
  }
  assert.deepEqual(parseLossBurst('5%,25%'), { p: 0.05, r: 0.25 });
  assert.deepEqual(parseLossBurst('0.1,0.3,0.5,0.02'), {
    p: 0.1,
    r: 0.3,
    lossBad: 0.5,
    lossGood: 0.02,
  });
  for (const bad of ['0.1', '0.1,0.2,0.3,0.4,0.5', '0.1,2']) {
    assert.throws(() => parseLossBurst(bad), RangeError, bad);
  }
  // R = 0 with P > 0 never recovers: refused in P,R terms; allowed when the bad state is not total.
  assert.throws(() => parseLossBurst('1,0'), /^RangeError: R must be > 0 when P > 0/);
  assert.deepEqual(parseLossBurst('0,0'), { p: 0, r: 0 });
  assert.deepEqual(parseLossBurst('0.1,0,0.5'), { p: 0.1, r: 0, lossBad: 0.5 });
});

test('describeImpairments says what a spec does in one line', () => {
  assert.equal(describeImpairments({}), 'clean');
  assert.equal(
    describeImpairments({ loss: 0.3, delayMs: 100, jitterMs: 20 }),
    'loss 30 %, delay 100 ms ± 20 ms (uniform)',
  );
  assert.equal(
    describeImpairments({ delayMs: 5, jitterMs: 2, jitterDistribution: 'normal' }),
    'delay 5 ms, jitter σ 2 ms (normal)',
  );
  assert.equal(
    describeImpairments({
      lossBurst: { p: 0.05, r: 0.25 },
      duplicate: 0.01,
      corrupt: 0.001,
      rateBitsPerSecond: 1e6,
      burstBytes: 3000,
      blackouts: [{ fromMs: 2000, toMs: 5500 }],
      queueLimit: 50,
    }),
    'burst loss p 5 % r 25 % (≈ 16.67 % lost, bursts of 4.0 on average), duplicate 1 %, corrupt 0.1 %, ' +
      'rate 1 Mbit/s (burst 3000 bytes), blackout 2–5.5 s, limit 50',
  );
});
