/** The token bucket (GCRA form) behind `--rate` and `--burst`. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../src/impair/token-bucket.js';

test('burst 0 is netem pacing: back to back, each datagram taking its serialization time', () => {
  const b = new TokenBucket(80_000); // 10 000 bytes/s: a 1000-byte datagram takes 100 ms
  assert.deepEqual(
    [0, 0, 0, 0].map(() => b.reserve(1000, 0)),
    [0, 100, 200, 300],
  );
  // After an idle period the next one leaves at once.
  assert.equal(b.reserve(1000, 1000), 1000);
});

test('a bucket of depth B lets B bytes leave at once, then paces', () => {
  const b = new TokenBucket(80_000, 3000);
  assert.deepEqual(
    Array.from({ length: 6 }, () => b.reserve(1000, 0)),
    [0, 0, 0, 100, 200, 300],
  );
});

test('a datagram larger than the bucket still leaves once the bucket is full', () => {
  const b = new TokenBucket(8000, 100); // 1000 bytes/s, 100-byte bucket
  assert.equal(b.reserve(5000, 0), 0);
  // 5000 ms of cost; the 10-byte one needs 10 tokens of the 100-byte bucket, 90 ms early.
  assert.equal(b.reserve(10, 0), 4910);
});

test('the byte rate holds over a long run of mixed sizes', () => {
  const rate = 1_000_000; // 125 000 bytes/s
  const b = new TokenBucket(rate);
  let bytes = 0;
  let last = 0;
  for (let i = 0; i < 1000; i++) {
    const size = 100 + ((i * 37) % 1400);
    last = b.reserve(size, 0);
    bytes += size;
  }
  // The last datagram starts when every byte before it has been sent.
  const lastSize = 100 + ((999 * 37) % 1400);
  assert.ok(Math.abs(last - ((bytes - lastSize) * 8 * 1000) / rate) < 1e-6);
});

test('bad parameters are RangeErrors', () => {
  assert.throws(() => new TokenBucket(0), /rateBitsPerSecond/);
  assert.throws(() => new TokenBucket(1000, -1), /burstBytes/);
});
