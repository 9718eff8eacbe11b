/** The pure core of Task 3: split sizes, payloads, echo matching, IP fragment arithmetic. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  EchoMatcher,
  familyOfAddress,
  fragmentDataBytes,
  ipFragments,
  makePayload,
  splitPayload,
  splitSizes,
} from '../src/chunks.js';
import { checkSplit } from '../src/bigsend.js';
import { largestPassing, probePayload } from '../src/probe.js';

test('the lab split: 80,000 in 16 is 16 × 5,000; 80,001 in 16 is one 5,001 and fifteen 5,000', () => {
  assert.deepEqual(splitSizes(80000, 16), Array<number>(16).fill(5000));
  assert.deepEqual(splitSizes(80001, 16), [5001, ...Array<number>(15).fill(5000)]);
  assert.deepEqual(splitSizes(10, 4), [3, 3, 2, 2]);
  assert.deepEqual(splitSizes(7, 1), [7]);
  assert.throws(() => splitSizes(0, 1), RangeError);
  assert.throws(() => splitSizes(3, 4), /count must be/);
  assert.throws(() => splitSizes(3, 0), /count must be/);
});

test('property: pieces add up, count is exact, sizes differ by at most one byte, larger first', () => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 1, max: 1_000_000 })
        .chain((total) =>
          fc.tuple(fc.constant(total), fc.integer({ min: 1, max: Math.min(total, 5000) })),
        ),
      ([total, count]) => {
        const sizes = splitSizes(total, count);
        assert.equal(sizes.length, count);
        assert.equal(
          sizes.reduce((a, b) => a + b, 0),
          total,
        );
        assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
        for (let i = 1; i < sizes.length; i++) assert.ok((sizes[i] ?? 0) <= (sizes[i - 1] ?? 0));
      },
    ),
  );
});

test('property: concatenated pieces are the payload again', () => {
  fc.assert(
    fc.property(
      fc
        .uint8Array({ minLength: 1, maxLength: 3000 })
        .chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: 1, max: p.length }))),
      ([payload, count]) => {
        const pieces = splitPayload(payload, count);
        assert.deepEqual(Buffer.concat(pieces), Buffer.from(payload));
      },
    ),
  );
});

test('payloads: the fill character repeated, or a counter whose pieces of ≥ 15 bytes all differ', () => {
  assert.equal(makePayload(5, { fill: 'z' }).toString('latin1'), 'zzzzz');
  assert.equal(makePayload(20, { pattern: true }).toString('latin1'), '0000000\n0000001\n0000');
  assert.throws(() => makePayload(5, { fill: 'zz' }), /one printable ASCII character/);
  assert.throws(() => makePayload(5, { fill: 'é' }), RangeError);
  assert.throws(() => makePayload(0, { fill: 'z' }), /size must be/);
  fc.assert(
    fc.property(
      fc
        .integer({ min: 15, max: 400 })
        .chain((piece) => fc.tuple(fc.constant(piece), fc.integer({ min: 2, max: 60 }))),
      ([piece, count]) => {
        const pieces = splitPayload(makePayload(piece * count, { pattern: true }), count);
        const distinct = new Set(pieces.map((p) => p.toString('latin1')));
        assert.equal(distinct.size, count);
      },
    ),
  );
});

test('matcher: every piece once, in any order, with duplicates → all verified, duplicates named', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }).chain((count) =>
        fc.record({
          count: fc.constant(count),
          size: fc.integer({ min: count * 15, max: count * 200 }),
          copies: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: count, maxLength: count }),
          seed: fc.integer(),
        }),
      ),
      ({ count, size, copies, seed }) => {
        const pieces = splitPayload(makePayload(size, { pattern: true }), count);
        const m = new EchoMatcher(pieces);
        const echoes = copies.flatMap((c, i) => Array<number>(c).fill(i));
        // A deterministic shuffle from the seed: arrival order must not matter.
        let s = seed >>> 0;
        for (let i = echoes.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          const j = s % (i + 1);
          [echoes[i], echoes[j]] = [echoes[j] ?? 0, echoes[i] ?? 0];
        }
        const seen = new Set<number>();
        for (const i of echoes) {
          const r = m.match(Buffer.from(pieces[i] ?? []));
          if (seen.has(i)) assert.deepEqual(r, { kind: 'duplicate', index: i });
          else assert.deepEqual(r, { kind: 'piece', index: i });
          seen.add(i);
        }
        const expectedMissing = copies.flatMap((c, i) => (c === 0 ? [i] : []));
        assert.deepEqual(m.missing(), expectedMissing);
        assert.equal(m.echoed, count - expectedMissing.length);
        assert.equal(m.complete, expectedMissing.length === 0);
        assert.equal(
          m.echoedBytes(),
          pieces.reduce((a, p, i) => a + (expectedMissing.includes(i) ? 0 : p.length), 0),
        );
      },
    ),
  );
});

test('property: a truncated, extended or bit-flipped echo is never verified', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 16 }),
      fc.integer({ min: 0, max: 10_000 }),
      fc.nat(),
      fc.integer({ min: 0, max: 7 }),
      fc.constantFrom('flip', 'cut', 'extend'),
      (count, extra, at, bit, how) => {
        const pieces = splitPayload(makePayload(count * 20 + extra, { fill: 'z' }), count);
        const m = new EchoMatcher(pieces);
        const piece = Buffer.from(pieces[at % count] ?? []);
        const bad =
          how === 'flip'
            ? Buffer.from(piece.map((b, i) => (i === at % piece.length ? b ^ (1 << bit) : b)))
            : how === 'cut'
              ? piece.subarray(0, piece.length - 2) // sizes differ by ≤ 1: 2 bytes less matches none
              : Buffer.concat([piece, Buffer.from('zz')]);
        assert.deepEqual(m.match(bad), { kind: 'unexpected' });
        assert.equal(m.echoed, 0);
      },
    ),
  );
});

test('matcher with a one-character fill: equal pieces are interchangeable, the count stays right', () => {
  const pieces = splitPayload(makePayload(80000, { fill: 'z' }), 16);
  const m = new EchoMatcher(pieces);
  for (let i = 0; i < 15; i++) assert.equal(m.match(pieces[0] ?? Buffer.alloc(0)).kind, 'piece');
  assert.deepEqual(m.missing(), [15]);
  assert.equal(m.match(pieces[3] ?? Buffer.alloc(0)).kind, 'piece');
  assert.equal(m.complete, true);
  assert.equal(m.match(pieces[3] ?? Buffer.alloc(0)).kind, 'duplicate');
  // Uneven: the 5,001-byte piece is told apart from the 5,000-byte ones by its length.
  const uneven = splitPayload(makePayload(80001, { fill: 'z' }), 16);
  const u = new EchoMatcher(uneven);
  for (let i = 1; i < 16; i++) u.match(uneven[i] ?? Buffer.alloc(0));
  assert.deepEqual(u.missing(), [0]);
});

test('IP fragments: RFC 791 / 8200 arithmetic, on Ethernet and on loopback', () => {
  assert.equal(ipFragments(5000, 1500, 'udp4'), 4); // 5,008 bytes in 1,480-byte fragments
  assert.equal(ipFragments(5000, 1500, 'udp6'), 4); // 5,008 bytes in 1,448-byte fragments
  assert.equal(ipFragments(1472, 1500, 'udp4'), 1); // 1,472 + 8 + 20 = 1,500: fits
  assert.equal(ipFragments(1473, 1500, 'udp4'), 2);
  assert.equal(ipFragments(1452, 1500, 'udp6'), 1); // 1,452 + 8 + 40 = 1,500
  assert.equal(ipFragments(65507, 65536, 'udp4'), 1); // loopback: the largest IPv4 datagram fits
  assert.equal(ipFragments(65507, 1500, 'udp4'), 45);
  assert.equal(ipFragments(65527, 65536, 'udp6'), 2); // 65,575 bytes of IPv6 packet > 65,536
  assert.equal(fragmentDataBytes(1500, 'udp4'), 1480);
  assert.equal(fragmentDataBytes(1500, 'udp6'), 1448);
  assert.throws(() => ipFragments(10, 1000, 'udp6'), /mtu must be an integer ≥ 1280/);
  assert.throws(() => ipFragments(-1, 1500, 'udp4'), RangeError);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 65527 }),
      fc.integer({ min: 1280, max: 65536 }),
      fc.constantFrom('udp4' as const, 'udp6' as const),
      (bytes, mtu, fam) => {
        const k = ipFragments(bytes, mtu, fam);
        const per = fragmentDataBytes(mtu, fam);
        if (k === 1) return;
        assert.ok(per % 8 === 0 && per > 0);
        assert.ok(k * per >= bytes + 8, 'the fragments carry the whole datagram');
        assert.ok((k - 1) * per < bytes + 8, 'and no fragment is wasted');
      },
    ),
  );
});

test('limits by family, and the up-front check of a piece above the limit', () => {
  assert.equal(familyOfAddress('127.0.0.1'), 'udp4');
  assert.equal(familyOfAddress('::1'), 'udp6');
  assert.equal(familyOfAddress('::ffff:127.0.0.1'), 'udp4');
  assert.equal(checkSplit(80000, 16, 'udp4'), 5000);
  assert.equal(checkSplit(65507, 1, 'udp4'), 65507);
  assert.equal(checkSplit(65527, 1, 'udp6'), 65527);
  assert.throws(() => checkSplit(65508, 1, 'udp4'), /above the UDP payload limit of 65,507 bytes/);
  assert.throws(() => checkSplit(65528, 1, 'udp6'), /over IPv6: use chunks ≥ 2/);
  assert.throws(() => checkSplit(80000, 1, 'udp4'), /use chunks ≥ 2 for 80,000 bytes/);
  assert.throws(() => checkSplit(10, 11, 'udp4'), /chunks must be/);
});

test('probe helpers: binary search finds the boundary; payloads carry their number', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 70000 }).chain((low) =>
        fc.tuple(
          fc.constant(low),
          fc
            .integer({ min: low + 1, max: 70001 })
            .chain((high) => fc.tuple(fc.constant(high), fc.integer({ min: low, max: high - 1 }))),
        ),
      ),
      async ([low, [high, target]]) => {
        let calls = 0;
        const found = await largestPassing(low, high, (n) => {
          calls++;
          return Promise.resolve(n <= target);
        });
        assert.equal(found, target);
        assert.ok(calls <= Math.ceil(Math.log2(high - low)) + 1);
      },
    ),
  );
  assert.equal(probePayload(7, 20).toString('latin1'), 'udplab-probe 7 zzzzz');
  assert.equal(probePayload(7, 5).toString('latin1'), 'udpla');
});
