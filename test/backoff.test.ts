import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nominalWaits, schedule } from '../src/backoff.js';
import { seededRng } from '../src/rng.js';

test('the lab schedule: 0.1, 0.2, 0.4, 0.8, 1.6 s — 5 transmissions, 3.1 s', () => {
  const waits = nominalWaits();
  assert.deepEqual(waits, [100, 200, 400, 800, 1600]);
  assert.equal(
    waits.reduce((a, b) => a + b, 0),
    3100,
  );
});

test('max delay is inclusive; attempts caps', () => {
  assert.deepEqual(nominalWaits({ timeoutMs: 100, maxDelayMs: 1600 }), [100, 200, 400, 800, 1600]);
  assert.deepEqual(nominalWaits({ timeoutMs: 100, maxDelayMs: 1599 }), [100, 200, 400, 800]);
  assert.deepEqual(nominalWaits({ attempts: 3 }), [100, 200, 400]);
  assert.deepEqual(nominalWaits({ attempts: 1 }), [100]);
  assert.deepEqual(
    nominalWaits({ attempts: 10 }),
    [100, 200, 400, 800, 1600],
    'max delay still applies',
  );
  assert.deepEqual(nominalWaits({ timeoutMs: 2, maxDelayMs: 32 }), [2, 4, 8, 16, 32]);
});

test('a first wait above the max delay still transmits once', () => {
  assert.deepEqual(nominalWaits({ timeoutMs: 60000 }), [60000]);
});

test('jitter stays within [w(1-F), w(1+F)] and repeats with a seed', () => {
  const a = schedule({ jitter: 0.25, rng: seededRng(7) });
  const b = schedule({ jitter: 0.25, rng: seededRng(7) });
  assert.deepEqual(a, b);
  const nominal = nominalWaits();
  assert.equal(a.length, nominal.length);
  a.forEach((w, i) => {
    const n = nominal[i] ?? 0;
    assert.ok(w >= n * 0.75 && w <= n * 1.25, `${w} vs ${n}`);
  });
  assert.notDeepEqual(a, nominal);
  for (let s = 0; s < 200; s++) {
    for (const [i, w] of schedule({ jitter: 0.5, rng: seededRng(s) }).entries()) {
      const n = nominal[i] ?? 0;
      assert.ok(w >= n * 0.5 && w <= n * 1.5);
    }
  }
});

test('bad options are RangeErrors', () => {
  assert.throws(() => nominalWaits({ timeoutMs: 0 }), RangeError);
  assert.throws(() => nominalWaits({ maxDelayMs: -1 }), RangeError);
  assert.throws(() => nominalWaits({ attempts: 0 }), RangeError);
  assert.throws(() => nominalWaits({ attempts: 1.5 }), RangeError);
  assert.throws(() => nominalWaits({ jitter: 1 }), RangeError);
});
