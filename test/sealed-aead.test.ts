/**
 * The two implementations of the sealed form's ChaCha20-Poly1305 (src/wire/aead.ts): node:crypto
 * and the addon's (native/udplab_aead.c, the same OpenSSL called once per datagram) must give the
 * same bytes, open each other's datagrams and refuse the same forgeries.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { SealKey, openDatagram, sealDatagram } from '../src/index.js';
import { useAead } from '../src/wire/sealed.js';
import { nativeSkipReason } from './backends.js';
import { sealedMessages } from './sealed-craft.js';

after(() => useAead('auto'));

const message = sealedMessages(300);
const keyBytes = fc.uint8Array({ minLength: 32, maxLength: 32 });
const nonce = fc.uint8Array({ minLength: 12, maxLength: 12 });

test('auto takes the addon when it loads, node:crypto otherwise', () => {
  assert.equal(useAead('auto'), nativeSkipReason === undefined ? 'native' : 'node');
  assert.equal(useAead('node'), 'node');
});

test(
  'native and node:crypto seal to the same bytes and open each other',
  { skip: nativeSkipReason },
  () => {
    fc.assert(
      fc.property(keyBytes, nonce, message, (k, n, m) => {
        const key = SealKey.fromBytes(k);
        useAead('node');
        const byNode = sealDatagram(key, m, n);
        useAead('native');
        const byNative = sealDatagram(key, m, n);
        assert.deepEqual(byNative, byNode);
        const openedByNative = openDatagram(key, byNode);
        useAead('node');
        const openedByNode = openDatagram(key, byNative);
        assert.deepEqual(openedByNative, {
          ok: true,
          message: { ...m, body: Buffer.from(m.body) },
        });
        assert.deepEqual(openedByNode, openedByNative);
      }),
      { numRuns: 300 },
    );
  },
);

test(
  'both refuse the same forgeries: any flipped bit, another key',
  { skip: nativeSkipReason },
  () => {
    fc.assert(
      fc.property(
        keyBytes,
        keyBytes,
        message,
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (k, other, m, at, bit) => {
          const key = SealKey.fromBytes(k);
          const sealed = sealDatagram(key, m);
          const flipped = Buffer.from(sealed);
          const i = 3 + (at % (flipped.length - 3)); // past the header: those bytes fail earlier as malformed
          flipped[i] = (flipped[i] ?? 0) ^ (1 << bit);
          const wrongKey = SealKey.fromBytes(other.map((b, j) => (j === 0 ? b ^ 1 : b)));
          for (const impl of ['node', 'native'] as const) {
            useAead(impl);
            assert.deepEqual(openDatagram(key, flipped), { ok: false, reason: 'bad-auth' }, impl);
            assert.deepEqual(
              openDatagram(wrongKey, sealed),
              { ok: false, reason: 'bad-auth' },
              impl,
            );
            assert.equal(openDatagram(key, sealed).ok, true, impl);
          }
          // Opening never writes the datagram it reads.
          assert.deepEqual(flipped.subarray(0, i), sealed.subarray(0, i));
        },
      ),
      { numRuns: 300 },
    );
  },
);

test(
  'the addon refuses bad arguments with a TypeError, not a crash',
  { skip: nativeSkipReason },
  async () => {
    const { loadNativeAddon } = await import('../src/backend/native.js');
    const load = loadNativeAddon();
    assert.ok('addon' in load);
    const { aeadKey, aeadSeal, aeadOpen } = load.addon;
    assert.ok(aeadKey && aeadSeal && aeadOpen);
    assert.throws(() => aeadKey(new Uint8Array(31)), TypeError);
    const h = aeadKey(new Uint8Array(32));
    assert.throws(() => aeadSeal(h, new Uint8Array(30)), TypeError); // shorter than header, nonce, tag
    assert.throws(() => aeadSeal({}, new Uint8Array(64)), TypeError);
    assert.throws(() => aeadOpen(h, new Uint8Array(64), new Uint8Array(32)), TypeError); // out: 33 bytes
    assert.equal(aeadOpen(h, new Uint8Array(64), new Uint8Array(33)), false);
  },
);
