/** Sealed datagrams made by hand, which the codec refuses to make (for tests of the server). */
import { createCipheriv } from 'node:crypto';
import { SealedType, type SealKey } from '../src/index.js';

/**
 * A request sealed by hand with attempt 0, which sealDatagram refuses to make: only a key holder
 * (a buggy client, or one that means harm) can send one.
 */
export function sealedWithAttemptZero(key: SealKey, id: bigint, timeMs: number): Buffer {
  const header = Buffer.from([0xfe, 1, SealedType.REQUEST]);
  const nonce = Buffer.alloc(12, 7);
  const inner = Buffer.alloc(18 + 5);
  inner.writeBigUInt64BE(id, 0);
  inner.writeUInt32BE(Math.floor(timeMs / 2 ** 32), 8);
  inner.writeUInt32BE(timeMs % 2 ** 32, 12);
  inner.writeUInt16BE(0, 16);
  inner.write('hello', 18, 'latin1');
  const cipher = createCipheriv('chacha20-poly1305', key.secret, nonce, { authTagLength: 16 });
  cipher.setAAD(header, { plaintextLength: inner.length });
  const text = Buffer.concat([cipher.update(inner), cipher.final()]);
  return Buffer.concat([header, nonce, text, cipher.getAuthTag()]);
}
