import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  SEALED_MAGIC,
  SEALED_OVERHEAD,
  SealKey,
  SealedType,
  openDatagram,
  sealDatagram,
  type SealedMessage,
} from '../src/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// The vectors of docs/wire-format.md ("Test vectors"). They were cross-checked against an
// independent implementation of the framing (Python `cryptography`'s ChaCha20Poly1305).
const VECTOR_KEY = SealKey.fromBytes(Buffer.from(Array.from({ length: 32 }, (_, i) => i)));
const VECTORS: { name: string; nonce: string; message: SealedMessage; bytes: string }[] = [
  {
    name: 'request',
    nonce: '070000004041424344454647',
    message: {
      type: SealedType.REQUEST,
      id: 0x0123456789abcdefn,
      timeMs: 1795608000000, // 2026-11-25T12:00:00.000Z
      attempt: 1,
      body: Buffer.from('hello'),
    },
    bytes:
      'fe0101 070000004041424344454647 48cf344598eaa12f99e94c9564e1fbaf95e8d5b254 94456b4bd964af105332cc5ca7b9fb43401b',
  },
  {
    name: 'reply',
    nonce: '000000000000000000000001',
    message: {
      type: SealedType.REPLY,
      id: 0x0123456789abcdefn,
      timeMs: 1795608000005,
      attempt: 1,
      body: Buffer.from('I received from you a message of 5 bytes'),
    },
    bytes:
      'fe0102 000000000000000000000001 687f39beb8a175952d717f8da187a11710f07660bcd49f102c4cd04c0988ed65be0d9565c6dbcfa34c2d9857c784cfeeaa986546a9092d410148 f050818b934cb66b997258aa4539114a',
  },
];

test('node:crypto ChaCha20-Poly1305 matches RFC 8439 §2.8.2', () => {
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x80 + i));
  const nonce = hex('070000004041424344454647');
  const aad = hex('50515253c0c1c2c3c4c5c6c7');
  const plain = Buffer.from(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: plain.length });
  const out = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  assert.equal(
    out.toString('hex'),
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
      '1ae10b594f09e26a7e902ecbd0600691',
  );
});

test('test vectors of docs/wire-format.md: seal gives the exact bytes, open gives the fields back', () => {
  assert.equal(VECTOR_KEY.id, 'a37a1c53b1c5b3a4', 'key ID of the vector key');
  for (const v of VECTORS) {
    const sealed = sealDatagram(VECTOR_KEY, v.message, hex(v.nonce));
    assert.equal(sealed.toString('hex'), hex(v.bytes).toString('hex'), v.name);
    assert.equal(sealed.length, SEALED_OVERHEAD + v.message.body.length);
    const opened = openDatagram(VECTOR_KEY, hex(v.bytes));
    assert.ok(opened.ok, v.name);
    assert.deepEqual(
      { ...opened.message, body: Buffer.from(opened.message.body).toString() },
      { ...v.message, body: Buffer.from(v.message.body).toString() },
    );
  }
});

test('the docs quote the same vectors the tests check', async () => {
  const { readFile } = await import('node:fs/promises');
  const { repoRoot } = await import('./helpers.js');
  const doc = (await readFile(`${repoRoot}docs/wire-format.md`, 'utf8')).replace(/\s+/g, '');
  for (const v of VECTORS) assert.ok(doc.includes(hex(v.bytes).toString('hex')), v.name);
});

const messageArb = fc.record({
  type: fc.constantFrom(SealedType.REQUEST, SealedType.REPLY),
  id: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  timeMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  attempt: fc.integer({ min: 1, max: 0xffff }),
  body: fc.uint8Array({ maxLength: 1500 }),
});
const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => SealKey.fromBytes(b));

test('property: open(seal(m)) = m for any key, nonce and message', () => {
  fc.assert(
    fc.property(
      keyArb,
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      messageArb,
      (key, nonce, m) => {
        const opened = openDatagram(key, sealDatagram(key, m, nonce));
        assert.ok(opened.ok);
        assert.deepEqual(
          { ...opened.message, body: Buffer.from(opened.message.body) },
          { ...m, body: Buffer.from(m.body) },
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('property: any single bit flipped anywhere in a sealed datagram is rejected', () => {
  fc.assert(
    fc.property(keyArb, messageArb, fc.nat(), (key, m, bit) => {
      const d = sealDatagram(key, m);
      const i = bit % (d.length * 8);
      d[i >> 3] = (d[i >> 3] ?? 0) ^ (1 << (i & 7));
      const opened = openDatagram(key, d);
      assert.equal(opened.ok, false);
      // Which check catches it depends only on public bytes: magic, header/length, else the tag.
      if (!opened.ok) {
        if (i < 8) assert.equal(opened.reason, 'not-sealed');
        else if (i < 24) assert.ok(opened.reason === 'malformed' || opened.reason === 'bad-auth');
        else assert.equal(opened.reason, 'bad-auth');
      }
    }),
    { numRuns: 2000 },
  );
});

test('every single bit flip of one datagram, exhaustively', () => {
  const key = SealKey.generate();
  const d = sealDatagram(key, {
    type: SealedType.REQUEST,
    id: 42n,
    timeMs: Date.now(),
    attempt: 1,
    body: Buffer.from('Current time is 2026-11-25 16:45:12.123'),
  });
  for (let i = 0; i < d.length * 8; i++) {
    const copy = Buffer.from(d);
    copy[i >> 3] = (copy[i >> 3] ?? 0) ^ (1 << (i & 7));
    assert.equal(openDatagram(key, copy).ok, false, `bit ${i}`);
  }
  assert.equal(openDatagram(key, d).ok, true, 'the original still opens');
});

test('property: random bytes never throw and never open', () => {
  const key = SealKey.generate();
  const headed = fc
    .tuple(fc.constantFrom(1, 2, 0, 3, 255), fc.uint8Array({ maxLength: 200 }))
    .map(([type, rest]) => Buffer.concat([Buffer.from([SEALED_MAGIC, 1, type]), rest]));
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 2000 }), headed), (data) => {
      const r = openDatagram(key, data);
      assert.equal(r.ok, false);
    }),
    { numRuns: 3000 },
  );
});

test('truncated, extended, wrong-key, unknown version and type are all refused', () => {
  const key = SealKey.generate();
  const other = SealKey.generate();
  const d = sealDatagram(key, {
    type: SealedType.REQUEST,
    id: 1n,
    timeMs: 1,
    attempt: 1,
    body: Buffer.from('x'),
  });
  const reason = (data: Uint8Array, k = key): string => {
    const r = openDatagram(k, data);
    return r.ok ? 'ok' : r.reason;
  };
  assert.equal(reason(d), 'ok');
  assert.equal(reason(d, other), 'bad-auth');
  assert.equal(reason(new Uint8Array(0)), 'not-sealed');
  assert.equal(reason(Buffer.from('hello')), 'not-sealed');
  for (let n = 1; n < SEALED_OVERHEAD; n++) assert.equal(reason(d.subarray(0, n)), 'malformed');
  assert.equal(reason(d.subarray(0, d.length - 1)), 'bad-auth');
  assert.equal(reason(Buffer.concat([d, Buffer.from([0])])), 'bad-auth');
  assert.equal(reason(Buffer.concat([Buffer.from([0xfe, 2, 1]), d.subarray(3)])), 'malformed');
  assert.equal(reason(Buffer.concat([Buffer.from([0xfe, 1, 9]), d.subarray(3)])), 'malformed');
  // Swapping the type (request ↔ reply) is caught by the tag: the header is associated data.
  assert.equal(reason(Buffer.concat([Buffer.from([0xfe, 1, 2]), d.subarray(3)])), 'bad-auth');
});

test('the magic byte 0xFE can never begin the plain text protocol', () => {
  // Valid UTF-8 never contains 0xFE (RFC 3629 §1), and it is not a digit (no ID form).
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (s) => {
      assert.ok(!Buffer.from(s, 'utf8').includes(SEALED_MAGIC));
    }),
  );
});

test('seal checks its arguments with RangeError', () => {
  const key = SealKey.generate();
  const m: SealedMessage = { type: 1, id: 1n, timeMs: 1, attempt: 1, body: new Uint8Array() };
  assert.throws(() => sealDatagram(key, { ...m, id: -1n }), RangeError);
  assert.throws(() => sealDatagram(key, { ...m, id: 2n ** 64n }), RangeError);
  assert.throws(() => sealDatagram(key, { ...m, attempt: 0 }), RangeError);
  assert.throws(() => sealDatagram(key, { ...m, attempt: 65536 }), RangeError);
  assert.throws(() => sealDatagram(key, { ...m, timeMs: -1 }), RangeError);
  assert.throws(() => sealDatagram(key, { ...m, type: 3 as SealedType }), RangeError);
  assert.throws(() => sealDatagram(key, m, new Uint8Array(11)), RangeError);
  assert.throws(() => SealKey.fromBytes(new Uint8Array(31)), RangeError);
});

test('pooled nonces: 12 bytes, all distinct, and a nonce handed out never changes when the pool is replaced', async () => {
  const { randomNonce } = await import('../src/wire/sealed.js');
  const first = randomNonce();
  const copy = Buffer.from(first);
  const seen = new Set<string>([copy.toString('hex')]);
  for (let i = 0; i < 2000; i++) {
    const n = randomNonce();
    assert.equal(n.length, 12);
    seen.add(n.toString('hex'));
  }
  assert.equal(seen.size, 2001);
  assert.deepEqual(first, copy);
});
