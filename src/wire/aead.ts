/**
 * The AEAD step of the sealed form (sealed.ts): ChaCha20-Poly1305 over a datagram laid out as
 * header (3 bytes, the associated data) ‖ nonce (12) ‖ plaintext ‖ tag (16), in one of two
 * implementations of the same OpenSSL cipher: node:crypto's (a cipher object per datagram) or the
 * native addon's (native/udplab_aead.c: the key set up once, one call per datagram, about 8×
 * cheaper; docs/native.md). Both give the same bytes (test/sealed-aead.test.ts).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { loadNativeAddon, type NativeAddon } from '../backend/native.js';
import type { SealKey } from '../keys.js';

const CIPHER = 'chacha20-poly1305';
/** The layout's fixed parts (sealed.ts has the whole layout). */
const HEADER_BYTES = 3;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Which implementation of ChaCha20-Poly1305 seals and opens: node:crypto's or the addon's. */
export type AeadName = 'node' | 'native';

/** One implementation of the datagram's AEAD step (the layout is the caller's). */
export interface Aead {
  readonly name: AeadName;
  /** Encrypts `out` from byte 15 to 16 before its end in place, and writes the tag in its last 16. */
  seal(key: SealKey, out: Buffer): void;
  /** Verifies the tag of `data` and decrypts its ciphertext into `out`; false when the tag fails. */
  open(key: SealKey, data: Buffer, out: Buffer): boolean;
}

const nodeAead: Aead = {
  name: 'node',
  seal(key, out) {
    const nonce = out.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
    const tagAt = out.length - TAG_BYTES;
    const plain = out.subarray(HEADER_BYTES + NONCE_BYTES, tagAt);
    const cipher = createCipheriv(CIPHER, key.secret, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(out.subarray(0, HEADER_BYTES), { plaintextLength: plain.length });
    const text = cipher.update(plain);
    const tail = cipher.final();
    text.copy(out, HEADER_BYTES + NONCE_BYTES);
    tail.copy(out, HEADER_BYTES + NONCE_BYTES + text.length);
    cipher.getAuthTag().copy(out, tagAt);
  },
  open(key, data, out) {
    const tagAt = data.length - TAG_BYTES;
    try {
      const nonce = data.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
      const decipher = createDecipheriv(CIPHER, key.secret, nonce, { authTagLength: TAG_BYTES });
      decipher.setAuthTag(data.subarray(tagAt));
      decipher.setAAD(data.subarray(0, HEADER_BYTES), { plaintextLength: out.length });
      // update() hands out bytes before the tag is checked; final() verifies it, or throws.
      const head = decipher.update(data.subarray(HEADER_BYTES + NONCE_BYTES, tagAt));
      const tail = decipher.final();
      head.copy(out, 0);
      tail.copy(out, head.length);
      return true;
    } catch {
      return false;
    }
  },
};

/** The addon's functions, when the addon loads and found OpenSSL in this process. */
type NativeAeadAddon = Required<Pick<NativeAddon, 'aeadKey' | 'aeadSeal' | 'aeadOpen'>>;

function nativeAead(addon: NativeAeadAddon): Aead {
  // The addon's key handle per key: its cipher contexts are set up with the key once.
  const handles = new WeakMap<SealKey, object>();
  const handle = (key: SealKey): object => {
    let h = handles.get(key);
    if (h === undefined) {
      const secret = key.secret.export();
      h = addon.aeadKey(secret);
      secret.fill(0);
      handles.set(key, h);
    }
    return h;
  };
  return {
    name: 'native',
    seal(key, out) {
      if (!addon.aeadSeal(handle(key), out)) throw new Error('sealing failed in OpenSSL');
    },
    open: (key, data, out) => addon.aeadOpen(handle(key), data, out),
  };
}

let aead: Aead | undefined;

function nativeAeadAddon(): NativeAeadAddon | undefined {
  const load = loadNativeAddon();
  if (!('addon' in load)) return undefined;
  const { aeadKey, aeadSeal, aeadOpen } = load.addon;
  if (aeadKey === undefined || aeadSeal === undefined || aeadOpen === undefined) return undefined;
  return { aeadKey, aeadSeal, aeadOpen };
}

/** The implementation in use: chosen by {@link useAead}, else the addon's when it loads. */
export function currentAead(): Aead {
  if (aead === undefined) {
    const addon = nativeAeadAddon();
    aead = addon === undefined ? nodeAead : nativeAead(addon);
  }
  return aead;
}

/**
 * Chooses the ChaCha20-Poly1305 implementation (tests compare the two): `native` needs the addon,
 * `auto` (what runs unless told) takes it when it loads.
 * @returns the implementation now in use.
 * @throws Error when `native` is asked for and the addon (or its OpenSSL) is not there.
 */
export function useAead(choice: AeadName | 'auto'): AeadName {
  if (choice === 'node') aead = nodeAead;
  else {
    const addon = nativeAeadAddon();
    if (addon === undefined && choice === 'native')
      throw new Error('the addon with its ChaCha20-Poly1305 is not available');
    aead = addon === undefined ? nodeAead : nativeAead(addon);
  }
  return aead.name;
}
