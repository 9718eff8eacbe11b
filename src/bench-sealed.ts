/**
 * The sealed mode of `udplab bench` (`--key-file`): a {@link BenchCodec} that seals every request
 * with the shared key (docs/sealed.md) and accepts only replies that authenticate and answer it.
 * Kept in its own file so that node:crypto is loaded only by sealed runs.
 */
import { randomBytes } from 'node:crypto';
import type { BenchCodec } from './bench-codec.js';
import type { SealKey } from './keys.js';
import { SEALED_OVERHEAD, SealedType, openDatagram, sealDatagram } from './wire/sealed.js';
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
    throw new RangeError(`size must be an integer from 0 to ${max} bytes in sealed mode`);
  }
  const body = Buffer.alloc(size, 'x');
  const expected = Buffer.from(replyText(size), 'latin1');
  const base = randomBytes(8).readBigUInt64BE(0) >> 2n; // room for 2^62 requests after it
  return {
    mode: 'sealed',
    request: (seq) =>
      sealDatagram(key, {
        type: SealedType.REQUEST,
        id: base + BigInt(seq),
        timeMs: now(),
        attempt: 1,
        body,
      }),
    match: (reply) => {
      const opened = openDatagram(key, reply);
      if (!opened.ok || opened.message.type !== SealedType.REPLY) return 'bad';
      const offset = opened.message.id - base;
      if (offset < 1n || offset > BigInt(Number.MAX_SAFE_INTEGER)) return 'bad';
      const seq = Number(offset);
      return Buffer.from(opened.message.body).equals(expected) ? seq : { bad: seq };
    },
  };
}
