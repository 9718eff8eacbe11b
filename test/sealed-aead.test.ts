/**
 * The two implementations of the sealed form's ChaCha20-Poly1305 (src/wire/aead.ts): node:crypto
 * and the addon's (native/udplab_aead.c, the same OpenSSL called once per datagram) must give the
 * same bytes, open each other's datagrams and refuse the same forgeries; and so must the addon's
 * two ways into OpenSSL (its primitives directly, or EVP).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { SealKey, openDatagram, sealDatagram } from '../src/index.js';
import { currentAead } from '../src/wire/aead.js';
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

/** The addon's raw functions (the layout of src/wire/aead.ts: header ‖ nonce ‖ text ‖ tag). */
async function rawAddon() {
  const { loadNativeAddon } = await import('../src/backend/native.js');
  const load = loadNativeAddon();
  assert.ok('addon' in load);
  const { aeadKey, aeadSeal, aeadOpen, aeadPath } = load.addon;
  assert.ok(aeadKey && aeadSeal && aeadOpen && aeadPath);
  return { aeadKey, aeadSeal, aeadOpen, aeadPath };
}

/** A datagram of `text` bytes of text, filled from `seed`, with room for the tag. */
function layout(text: number, seed: number): Buffer {
  const d = Buffer.alloc(3 + 12 + text + 16);
  for (let i = 0; i < d.length - 16; i++) d[i] = (i * 31 + seed) & 0xff;
  return d;
}

/** The datagram sealed by node:crypto (the reference). */
function sealedByNode(secret: Uint8Array, d: Buffer): Buffer {
  const out = Buffer.from(d);
  useAead('node');
  currentAead().seal(SealKey.fromBytes(secret), out);
  return out;
}

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);
// Every length class of the fast path (below, at and past a ChaCha20 block and a Poly1305 block),
// the largest UDP datagrams; texts past its 2,048-byte scratch go through EVP.
const LENGTHS = [
  0, 1, 15, 16, 17, 50, 59, 63, 64, 65, 127, 128, 129, 1472, 2047, 2048, 2049, 65_476, 65_536,
  70_000,
];

test(
  "the addon calls OpenSSL's ChaCha20 and Poly1305 directly where this Node exports them",
  {
    skip:
      (nativeSkipReason ??
      (process.config.variables as Record<string, unknown>).node_shared_openssl === true)
        ? 'this Node links a shared OpenSSL, which need not export the primitives'
        : undefined,
  },
  async () => {
    assert.equal((await rawAddon()).aeadPath, 'primitives');
  },
);

test(
  "the addon seals every length to node:crypto's bytes, opens them, and leaves `out` unwritten on a forged tag",
  { skip: nativeSkipReason },
  async () => {
    const { aeadKey, aeadSeal, aeadOpen, aeadPath } = await rawAddon();
    const h = aeadKey(SECRET);
    for (const [i, n] of LENGTHS.entries()) {
      const d = layout(n, i);
      const expected = sealedByNode(SECRET, d);
      assert.equal(aeadSeal(h, d), true);
      assert.ok(d.equals(expected), `seal of ${n} bytes`);
      const out = Buffer.alloc(n);
      assert.equal(aeadOpen(h, d, out), true);
      assert.ok(out.equals(layout(n, i).subarray(15, 15 + n)), `open of ${n} bytes`);
      d[d.length - 1] = (d[d.length - 1] ?? 0) ^ 1;
      out.fill(0xa5);
      assert.equal(aeadOpen(h, d, out), false);
      // The fast path checks the tag before it writes (EVP writes first: only the refusal holds).
      if (aeadPath === 'primitives' && n <= 2048)
        assert.ok(
          out.every((b) => b === 0xa5),
          `out untouched (${n} bytes)`,
        );
    }
  },
);

test(
  'UDPLAB_AEAD_EVP_ONLY=1 sends every call through EVP, with the same bytes; empty or 0 does not',
  { skip: nativeSkipReason },
  async () => {
    const { aeadKey, aeadSeal, aeadPath } = await rawAddon();
    const script = `
      import { loadNativeAddon } from ${JSON.stringify(new URL('../src/backend/native.js', import.meta.url).href)};
      const { addon } = loadNativeAddon();
      const h = addon.aeadKey(Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i));
      const out = [addon.aeadPath];
      for (const [i, n] of ${JSON.stringify(LENGTHS)}.entries()) {
        const d = Buffer.alloc(3 + 12 + n + 16);
        for (let j = 0; j < d.length - 16; j++) d[j] = (j * 31 + i) & 0xff;
        addon.aeadSeal(h, d);
        out.push(d.toString('base64'));
      }
      console.log(JSON.stringify(out));`;
    const h = aeadKey(SECRET);
    const expected = LENGTHS.map((n, i) => {
      const d = layout(n, i);
      aeadSeal(h, d);
      return d.toString('base64');
    });
    for (const [value, path] of [
      ['1', 'evp'],
      ['0', aeadPath],
      ['', aeadPath],
    ] as const) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 20_000,
        env: { ...process.env, UDPLAB_AEAD_EVP_ONLY: value },
      });
      assert.equal(r.status, 0, r.stderr);
      const [got, ...sealed] = JSON.parse(r.stdout) as string[];
      assert.equal(got, path, `UDPLAB_AEAD_EVP_ONLY='${value}'`);
      assert.deepEqual(sealed, expected, `UDPLAB_AEAD_EVP_ONLY='${value}'`);
    }
  },
);
