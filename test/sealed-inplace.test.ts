/**
 * The server's in-place sealed codec (openInto, sealReply in src/wire/sealed.ts) against the
 * reference functions: the same fields, the same failures for the same bytes, the same sealed
 * bytes for the same nonce, with either ChaCha20-Poly1305 implementation.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { SealKey, SealedType, openDatagram, sealDatagram } from '../src/index.js';
import { OpenedDatagram, openInto, sealReply, sealRequest, useAead } from '../src/wire/sealed.js';
import { nativeSkipReason } from './backends.js';
import { sealedMessages } from './sealed-craft.js';

after(() => useAead('auto'));

const message = sealedMessages(2100); // past the reused buffers' 2,048 bytes too
const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => SealKey.fromBytes(b));

const aeads = [
  { name: 'node' as const, skip: undefined },
  { name: 'native' as const, skip: nativeSkipReason },
];

for (const { name, skip } of aeads) {
  test(`openInto gives openDatagram's fields, reusing one object (${name})`, { skip }, () => {
    useAead(name);
    const into = new OpenedDatagram();
    fc.assert(
      fc.property(keyArb, message, (key, m) => {
        const d = sealDatagram(key, m);
        const ref = openDatagram(key, d);
        assert.equal(openInto(key, d, into), undefined);
        assert.ok(ref.ok);
        assert.equal(into.type, ref.message.type);
        assert.equal(into.id(), ref.message.id);
        assert.equal(into.idHi, Number(ref.message.id >> 32n));
        assert.equal(into.idLo, Number(ref.message.id & 0xffff_ffffn));
        assert.equal(into.timeMs, ref.message.timeMs);
        assert.equal(into.attempt, ref.message.attempt);
        assert.equal(into.bodyLength, m.body.length);
        assert.deepEqual([...into.body()], [...m.body]);
      }),
      { numRuns: 200 },
    );
  });

  test(
    `openInto fails exactly where openDatagram does, for the same reason (${name})`,
    { skip },
    () => {
      useAead(name);
      const into = new OpenedDatagram();
      fc.assert(
        fc.property(
          keyArb,
          message,
          fc.nat(),
          fc.uint8Array({ maxLength: 120 }),
          (key, m, bit, junk) => {
            const d = sealDatagram(key, m);
            const at = Math.floor(bit / 8) % d.length;
            d[at] = (d[at] ?? 0) ^ (1 << (bit % 8)); // any one bit
            for (const bytes of [d, junk, Uint8Array.of(0xfe, 1, 1, ...junk)]) {
              const ref = openDatagram(key, bytes);
              const got = openInto(key, bytes, into);
              assert.equal(got, ref.ok ? undefined : ref.reason);
            }
          },
        ),
        { numRuns: 200 },
      );
    },
  );

  test(`sealReply gives sealDatagram's bytes for the same nonce (${name})`, { skip }, () => {
    useAead(name);
    const into = new OpenedDatagram();
    fc.assert(
      fc.property(
        keyArb,
        message,
        fc.maxSafeNat(),
        fc.uint8Array({ maxLength: 100 }),
        (key, m, now, body) => {
          assert.equal(
            openInto(key, sealDatagram(key, { ...m, type: SealedType.REQUEST }), into),
            undefined,
          );
          const reply = sealReply(key, into, now, body);
          const nonce = reply.subarray(3, 15);
          const ref = sealDatagram(
            key,
            { type: SealedType.REPLY, id: m.id, timeMs: now, attempt: m.attempt, body },
            nonce,
          );
          assert.deepEqual(reply, ref);
        },
      ),
      { numRuns: 200 },
    );
  });
}

for (const { name, skip } of aeads) {
  test(`sealRequest gives sealDatagram's bytes for the same nonce (${name})`, { skip }, () => {
    useAead(name);
    fc.assert(
      fc.property(keyArb, message, (key, m) => {
        const hi = Number(m.id >> 32n);
        const lo = Number(m.id & 0xffffffffn);
        const request = sealRequest(key, hi, lo, m.timeMs, m.attempt, m.body);
        const ref = sealDatagram(key, { ...m, type: SealedType.REQUEST }, request.subarray(3, 15));
        assert.deepEqual(request, ref);
      }),
      { numRuns: 200 },
    );
  });
}

test('sealRequest: the range errors of sealDatagram, and words that are not uint32s', () => {
  const key = SealKey.generate();
  const body = new Uint8Array(0);
  assert.throws(() => sealRequest(key, 0, 1, 1, 0, body), RangeError);
  assert.throws(() => sealRequest(key, 0, 1, -1, 1, body), RangeError);
  assert.throws(() => sealRequest(key, 2 ** 32, 1, 1, 1, body), RangeError);
  assert.throws(() => sealRequest(key, 0, -1, 1, 1, body), RangeError);
  assert.throws(() => sealRequest(key, 0, 0.5, 1, 1, body), RangeError);
});

test('sealReply: fresh nonces, and the range errors of sealDatagram', () => {
  const key = SealKey.generate();
  const into = new OpenedDatagram();
  const request = {
    type: SealedType.REQUEST,
    id: 7n,
    timeMs: 1,
    attempt: 1,
    body: new Uint8Array(4),
  };
  assert.equal(openInto(key, sealDatagram(key, request), into), undefined);
  const nonces = new Set<string>();
  for (let i = 0; i < 600; i++)
    nonces.add(sealReply(key, into, 5, new Uint8Array(3)).subarray(3, 15).toString('hex'));
  assert.equal(nonces.size, 600, 'no nonce twice, across refills of the pool');
  assert.throws(() => sealReply(key, into, -1, new Uint8Array(0)), RangeError);
  assert.throws(() => sealReply(key, into, 0.5, new Uint8Array(0)), RangeError);
  // An authentic request can carry attempt 0, which no reply may: refused as sealDatagram does.
  const zero = sealDatagram(key, { ...request, attempt: 1 });
  assert.equal(openInto(key, zero, into), undefined);
  into.attempt = 0;
  assert.throws(() => sealReply(key, into, 5, new Uint8Array(0)), {
    name: 'RangeError',
    message: 'attempt must be an integer in 1 … 65535',
  });
});
