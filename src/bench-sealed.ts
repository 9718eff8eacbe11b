/**
 * The sealed mode of `udplab bench` (`--key-file`): a {@link BenchCodec} that seals every request
 * with the shared key (docs/sealed.md) and accepts only replies that authenticate and answer it.
 * Kept in its own file so that node:crypto is loaded only by sealed runs.
 */
import { randomBytes } from 'node:crypto';
import type { BenchCodec } from './bench-codec.js';
import type { SealKey } from './keys.js';
import {
  INNER_BYTES,
  OpenedDatagram,
  SEALED_OVERHEAD,
  SealedType,
  openInto,
  sealRequest,
} from './wire/sealed.js';
import { replyText } from './wire/text.js';

/**
 * Sealed requests: request `seq` carries the ID `base + seq` (a random 62-bit base per run, so
 * that two runs against one server never reuse an ID inside its replay window), the current time
 * and attempt 1, around a body of `size` bytes of `x`. A reply must open with the key, be of the
 * reply type, name one of this run's IDs and carry `I received from you a message of <size> bytes`.
 * @param key - the shared key (udplab keygen).
 * @param size - the body's size in bytes, 0 to 65,507 − 49 (the datagram is 49 bytes longer).
 * @param now - the clock for the sealed time, ms since 1970. Default Date.now.
 * @throws RangeError when size is out of range.
 */
export function sealedCodec(key: SealKey, size: number, now: () => number = Date.now): BenchCodec {
  const max = 65507 - SEALED_OVERHEAD;
  if (!Number.isInteger(size) || size < 0 || size > max) {
    throw new RangeError(
      `size (--size) must be an integer from 0 to ${String(max)} bytes with --key-file (a sealed datagram is ${String(SEALED_OVERHEAD)} bytes longer)`,
    );
  }
  const body = Buffer.alloc(size, 'x');
  const expected = Buffer.from(replyText(size), 'latin1');
  // The ID base as two 32-bit words (no BigInt per request): 30 random bits, then 32.
  const random = randomBytes(8);
  const baseHi = random.readUInt32BE(0) >>> 2;
  const baseLo = random.readUInt32BE(4);
  const opened = new OpenedDatagram(); // reused: match() reads it before the next reply
  return {
    mode: 'sealed',
    // The same in C on the native socket, which seals with its own clock (the wall clock).
    ...(now === Date.now ? { native: { key, baseHi, baseLo, size } } : {}),
    request: (seq) => {
      // base + seq in words, exactly (seq ≤ 2^53, so each step stays below 2^53).
      const seqHi = Math.floor(seq / 2 ** 32);
      let lo = baseLo + (seq - seqHi * 2 ** 32);
      let hi = baseHi + seqHi;
      if (lo >= 2 ** 32) {
        lo -= 2 ** 32;
        hi += 1;
      }
      return sealRequest(key, hi, lo, now(), 1, body);
    },
    match: (reply) => {
      if (openInto(key, reply, opened) !== undefined || opened.type !== SealedType.REPLY)
        return 'bad';
      // Exact in doubles: the high words differ by a small carry at most for this run's IDs.
      const seq = (opened.idHi - baseHi) * 2 ** 32 + (opened.idLo - baseLo);
      if (seq < 1 || seq > Number.MAX_SAFE_INTEGER) return 'bad';
      const plain = opened.plain;
      if (plain.length - INNER_BYTES !== expected.length) return { bad: seq };
      for (let i = 0; i < expected.length; i++)
        if (plain[INNER_BYTES + i] !== expected[i]) return { bad: seq };
      return seq;
    },
  };
}
