/**
 * Test helpers for the sealed form: random messages for property tests, and datagrams sealed by
 * hand with fields the codec refuses to seal (for tests of the server).
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { SealedType, type SealKey, type SealedMessage } from '../src/index.js';

/** Any message the codec can seal: either type, any ID, time and attempt, a body of up to `maxBody`. */
export function sealedMessages(maxBody: number): fc.Arbitrary<SealedMessage> {
  return fc.record({
    type: fc.constantFrom(SealedType.REQUEST, SealedType.REPLY),
    id: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    timeMs: fc.maxSafeNat(),
    attempt: fc.integer({ min: 1, max: 0xffff }),
    body: fc.uint8Array({ maxLength: maxBody }),
  });
}

/** The fields of a sealed datagram, each as raw as the wire allows. */
export interface RawSealedFields {
  type: number;
  /** u64 */
  id: bigint;
  /** The two u32 words of the time field: any u64, not only a safe integer. */
  timeHi: number;
  timeLo: number;
  /** u16: 0 too, which sealDatagram refuses. */
  attempt: number;
  body: Uint8Array;
}

/**
 * Seals any fields, as only a key holder (a buggy client, or one that means harm) could: the
 * datagram authenticates, whatever it says.
 */
export function sealByHand(key: SealKey, f: RawSealedFields): Buffer {
  const header = Buffer.from([0xfe, 1, f.type]);
  const nonce = randomBytes(12);
  const inner = Buffer.alloc(18 + f.body.length);
  inner.writeBigUInt64BE(f.id, 0);
  inner.writeUInt32BE(f.timeHi, 8);
  inner.writeUInt32BE(f.timeLo, 12);
  inner.writeUInt16BE(f.attempt, 16);
  inner.set(f.body, 18);
  const cipher = createCipheriv('chacha20-poly1305', key.secret, nonce, { authTagLength: 16 });
  cipher.setAAD(header, { plaintextLength: inner.length });
  const text = Buffer.concat([cipher.update(inner), cipher.final()]);
  return Buffer.concat([header, nonce, text, cipher.getAuthTag()]);
}

/** An authentic request with attempt 0 (the format counts from 1). */
export function sealedWithAttemptZero(key: SealKey, id: bigint, timeMs: number): Buffer {
  return sealByHand(key, {
    type: SealedType.REQUEST,
    id,
    timeHi: Math.floor(timeMs / 2 ** 32),
    timeLo: timeMs % 2 ** 32,
    attempt: 0,
    body: Buffer.from('hello'),
  });
}
