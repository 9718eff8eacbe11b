/**
 * The sealed form (docs/wire-format.md, "Sealed form"): every datagram between a server and a client
 * that share a key is encrypted and authenticated with ChaCha20-Poly1305 (RFC 8439) from node:crypto.
 *
 * ```
 * offset  size  field
 * 0       1     magic 0xFE: never the first byte of UTF-8 text, nor an ASCII digit
 * 1       1     version 0x01
 * 2       1     type: 0x01 request, 0x02 reply
 * 3       12    nonce: random, fresh for every datagram sealed
 * 15      n     ciphertext of: request ID (u64 BE) ‖ time, ms since 1970 (u64 BE) ‖ attempt (u16 BE) ‖ body
 * 15+n    16    Poly1305 tag over (header bytes 0–2 as associated data, ciphertext)
 * ```
 *
 * The cipher is OpenSSL's ChaCha20-Poly1305, through node:crypto or the native addon (aead.ts).
 * Besides the reference codec ({@link sealDatagram}, {@link openDatagram}) there is an in-place one
 * for hot paths ({@link openInto}, {@link sealReply}, {@link sealRequest}): the same bytes and
 * checks, without an object, a BigInt or a buffer view per datagram.
 *
 * Pure functions: no sockets, no clocks (the caller passes the time), randomness only for the
 * nonce, which tests may pass in. {@link openDatagram} verifies the tag before a single byte of the
 * plaintext is used, and returns one of three reasons on failure, none of which depends on the
 * secret: `not-sealed` (first byte), `malformed` (header or length, all public), `bad-auth` (tag).
 */
import { randomFillSync } from 'node:crypto';
import type { SealKey } from '../keys.js';
import { currentAead } from './aead.js';

export { useAead, type AeadName } from './aead.js';

/** First byte of every sealed datagram. 0xFE never occurs in UTF-8 (RFC 3629 §1). */
export const SEALED_MAGIC = 0xfe;
/** The only version this code speaks. */
export const SEALED_VERSION = 1;
/** The datagram types. */
export const SealedType = { REQUEST: 1, REPLY: 2 } as const;
/** A datagram type. */
export type SealedType = (typeof SealedType)[keyof typeof SealedType];

/** Bytes of the clear header (magic, version, type): the associated data. */
export const HEADER_BYTES = 3;
/** ChaCha20-Poly1305 nonce length (RFC 8439 §2.8). */
export const NONCE_BYTES = 12;
/** Poly1305 tag length. */
export const TAG_BYTES = 16;
/** The sealed fields before the body: request ID, time, attempt. */
export const INNER_BYTES = 18;
/** Bytes a sealed datagram adds to its body: 3 + 12 + 18 + 16 = 49. */
export const SEALED_OVERHEAD = HEADER_BYTES + NONCE_BYTES + INNER_BYTES + TAG_BYTES;
/** The largest attempt number the format carries. */
export const MAX_ATTEMPT = 0xffff;

const MAX_ID = 0xffff_ffff_ffff_ffffn;

/** What a sealed datagram carries. */
export interface SealedMessage {
  type: SealedType;
  /** The request ID, 0 … 2^64 − 1; a reply carries the ID of the request it answers. */
  id: bigint;
  /** The sender's clock when it sealed the datagram, in ms since 1970-01-01 UTC. */
  timeMs: number;
  /** Which transmission of the request this is (1, 2, …); a reply carries the attempt it first answered. */
  attempt: number;
  /** The message itself. */
  body: Uint8Array;
}

/** Why {@link openDatagram} refused a datagram. */
export type OpenFailure = 'not-sealed' | 'malformed' | 'bad-auth';

/** The result of {@link openDatagram}. */
export type OpenResult = { ok: true; message: SealedMessage } | { ok: false; reason: OpenFailure };

/** True when the datagram claims to be sealed (first byte 0xFE); says nothing about authenticity. */
export function looksSealed(data: Uint8Array): boolean {
  return data[0] === SEALED_MAGIC;
}

/** Random bytes for 256 nonces, drawn from node:crypto's CSPRNG in one call. */
const NONCE_POOL_BYTES = NONCE_BYTES * 256;
let noncePool = Buffer.alloc(0);
let nonceOffset = 0;

/**
 * A fresh random nonce (node:crypto's CSPRNG). Nonces are cut from a pool filled 256 at a time:
 * every byte is used once, and an exhausted pool is replaced by a new buffer (never refilled in
 * place), so a nonce handed out earlier never changes. One CSPRNG call per 256 datagrams instead
 * of one per datagram (docs/performance.md).
 */
export function randomNonce(): Buffer {
  if (nonceOffset + NONCE_BYTES > noncePool.length) {
    noncePool = randomFillSync(Buffer.allocUnsafe(NONCE_POOL_BYTES));
    nonceOffset = 0;
  }
  const nonce = noncePool.subarray(nonceOffset, nonceOffset + NONCE_BYTES);
  nonceOffset += NONCE_BYTES;
  return nonce;
}

/**
 * Seals a message.
 * @param nonce - 12 bytes that must never have been used with this key before; default a fresh
 *   random one (docs/wire-format.md explains the bound). Pass one only for test vectors.
 * @returns the datagram: 49 bytes longer than the body.
 * @throws RangeError when a field is out of range (id not a u64, timeMs not a safe integer ≥ 0,
 *   attempt not 1–65535, nonce not 12 bytes).
 * @example
 * const d = sealDatagram(key, { type: SealedType.REQUEST, id: 42n, timeMs: Date.now(), attempt: 1, body });
 */
export function sealDatagram(
  key: SealKey,
  message: SealedMessage,
  nonce: Uint8Array = randomNonce(),
): Buffer {
  const { type, id, timeMs, attempt, body } = message;
  if (type !== SealedType.REQUEST && type !== SealedType.REPLY)
    throw new RangeError('type must be 1 (request) or 2 (reply)');
  if (typeof id !== 'bigint' || id < 0n || id > MAX_ID)
    throw new RangeError('id must be a bigint in 0 … 2^64 − 1');
  if (!Number.isSafeInteger(timeMs) || timeMs < 0)
    throw new RangeError('timeMs must be a safe integer ≥ 0');
  if (!Number.isInteger(attempt) || attempt < 1 || attempt > MAX_ATTEMPT)
    throw new RangeError('attempt must be an integer in 1 … 65535');
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES)
    throw new RangeError('nonce must be 12 bytes');

  const out = Buffer.allocUnsafe(SEALED_OVERHEAD + body.length);
  out[0] = SEALED_MAGIC;
  out[1] = SEALED_VERSION;
  out[2] = type;
  out.set(nonce, HEADER_BYTES);
  const at = HEADER_BYTES + NONCE_BYTES;
  out.writeBigUInt64BE(id, at);
  out.writeUInt32BE(Math.floor(timeMs / 2 ** 32), at + 8);
  out.writeUInt32BE(timeMs % 2 ** 32, at + 12);
  out.writeUInt16BE(attempt, at + 16);
  out.set(body, at + INNER_BYTES);
  currentAead().seal(key, out);
  return out;
}

/**
 * Opens a sealed datagram: checks the header, verifies the tag, and only then reads the fields.
 * @example
 * const r = openDatagram(key, data);
 * if (r.ok && r.message.type === SealedType.REPLY) use(r.message.body);
 * Never throws, whatever the bytes (property-tested with random and bit-flipped input).
 * @returns `{ ok: true, message }`, or `{ ok: false, reason }` with `not-sealed` (first byte is not
 *   0xFE), `malformed` (unknown version or type, shorter than 49 bytes, or, once authenticated, an
 *   attempt of 0) or `bad-auth` (the tag does not verify: another key, or any bit changed on the way).
 */
export function openDatagram(key: SealKey, data: Uint8Array): OpenResult {
  if (data[0] !== SEALED_MAGIC) return { ok: false, reason: 'not-sealed' };
  const type = data[2];
  if (
    data.length < SEALED_OVERHEAD ||
    data[1] !== SEALED_VERSION ||
    (type !== SealedType.REQUEST && type !== SealedType.REPLY)
  )
    return { ok: false, reason: 'malformed' };

  const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
  const plain = Buffer.allocUnsafe(buf.length - HEADER_BYTES - NONCE_BYTES - TAG_BYTES);
  // On failure `plain` holds unauthenticated bytes: it is dropped unread.
  if (!currentAead().open(key, buf, plain)) return { ok: false, reason: 'bad-auth' };
  // Attempts count from 1: a 0 (only a key holder can seal one) is refused, never answered.
  if (plain.readUInt16BE(16) === 0) return { ok: false, reason: 'malformed' };
  const timeMs = plain.readUInt32BE(8) * 2 ** 32 + plain.readUInt32BE(12);
  return {
    ok: true,
    message: {
      type,
      id: plain.readBigUInt64BE(0),
      timeMs,
      attempt: plain.readUInt16BE(16),
      body: plain.subarray(INNER_BYTES),
    },
  };
}

/** Plaintext buffers kept for reuse, one per length up to this (longer ones are allocated). */
const SCRATCH_LENGTHS = 2048;

/**
 * The fields of a sealed datagram opened in place by {@link openInto}: one object a server reuses
 * for every datagram, so that opening one costs no result object, no BigInt and no Buffer. Valid
 * until the next {@link openInto} with the same object.
 */
export class OpenedDatagram {
  /** The datagram type. */
  type: SealedType = SealedType.REQUEST;
  /** The request ID's high and low 32-bit words (as uint32s). */
  idHi = 0;
  idLo = 0;
  /** The sender's clock when it sealed the datagram, in ms since 1970-01-01 UTC. */
  timeMs = 0;
  /** Which transmission of the request this is. */
  attempt = 0;
  /** The plaintext: request ID ‖ time ‖ attempt ‖ body. Reused: overwritten by the next open. */
  plain: Buffer = Buffer.alloc(0);
  /** Plaintext buffers by length (the datagrams of one client mostly share a length). */
  readonly #scratch: (Buffer | undefined)[] = [];

  /** The body's length in bytes. */
  get bodyLength(): number {
    return this.plain.length - INNER_BYTES;
  }

  /** The request ID, 0 … 2^64 − 1. */
  id(): bigint {
    return this.plain.readBigUInt64BE(0);
  }

  /** A view of the body (overwritten by the next open). */
  body(): Buffer {
    return this.plain.subarray(INNER_BYTES);
  }

  /** A buffer of `length` bytes for the plaintext. @internal */
  plainOf(length: number): Buffer {
    if (length >= SCRATCH_LENGTHS) return Buffer.allocUnsafe(length);
    let b = this.#scratch[length];
    if (b === undefined) this.#scratch[length] = b = Buffer.alloc(length);
    return b;
  }
}

/**
 * {@link openDatagram} for a server's hot path: the same checks in the same order, with the same
 * reasons, but the fields go into `into` (reused) instead of a new object.
 * @returns undefined when the datagram opened (its fields are in `into`), or why it did not.
 */
export function openInto(
  key: SealKey,
  data: Uint8Array,
  into: OpenedDatagram,
): OpenFailure | undefined {
  if (data[0] !== SEALED_MAGIC) return 'not-sealed';
  const type = data[2];
  if (
    data.length < SEALED_OVERHEAD ||
    data[1] !== SEALED_VERSION ||
    (type !== SealedType.REQUEST && type !== SealedType.REPLY)
  )
    return 'malformed';
  const plain = into.plainOf(data.length - HEADER_BYTES - NONCE_BYTES - TAG_BYTES);
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  if (!currentAead().open(key, buf, plain)) {
    plain.fill(0); // unauthenticated bytes: never read, and not left lying about either
    return 'bad-auth';
  }
  if (plain[16] === 0 && plain[17] === 0) return 'malformed'; // attempts count from 1
  into.plain = plain;
  into.type = type;
  into.idHi =
    (plain[0] ?? 0) * 0x1000000 +
    (plain[1] ?? 0) * 0x10000 +
    (plain[2] ?? 0) * 0x100 +
    (plain[3] ?? 0);
  into.idLo =
    (plain[4] ?? 0) * 0x1000000 +
    (plain[5] ?? 0) * 0x10000 +
    (plain[6] ?? 0) * 0x100 +
    (plain[7] ?? 0);
  const timeHi =
    (plain[8] ?? 0) * 0x1000000 +
    (plain[9] ?? 0) * 0x10000 +
    (plain[10] ?? 0) * 0x100 +
    (plain[11] ?? 0);
  const timeLo =
    (plain[12] ?? 0) * 0x1000000 +
    (plain[13] ?? 0) * 0x10000 +
    (plain[14] ?? 0) * 0x100 +
    (plain[15] ?? 0);
  into.timeMs = timeHi * 2 ** 32 + timeLo;
  into.attempt = (plain[16] ?? 0) * 0x100 + (plain[17] ?? 0);
  return undefined;
}

/**
 * Seals the reply to a request opened by {@link openInto}: its ID and attempt, the time `timeMs`
 * and `body`, under a fresh random nonce. The same bytes as {@link sealDatagram} with
 * `{ type: REPLY, id: request.id(), timeMs, attempt: request.attempt, body }` and the same nonce,
 * without the message object, the BigInt and the nonce's view.
 * @throws RangeError as {@link sealDatagram} (timeMs not a safe integer ≥ 0, attempt 0).
 */
export function sealReply(
  key: SealKey,
  request: OpenedDatagram,
  timeMs: number,
  body: Uint8Array,
): Buffer {
  return sealWords(
    key,
    SealedType.REPLY,
    request.idHi,
    request.idLo,
    timeMs,
    request.attempt,
    body,
  );
}

/**
 * Seals a request whose ID is given as its two 32-bit words (a load generator's hot path): the
 * same bytes as {@link sealDatagram} with `{ type: REQUEST, id: idHi × 2^32 + idLo, … }`.
 * @throws RangeError as {@link sealDatagram}, and for words that are not uint32s.
 */
export function sealRequest(
  key: SealKey,
  idHi: number,
  idLo: number,
  timeMs: number,
  attempt: number,
  body: Uint8Array,
): Buffer {
  return sealWords(key, SealedType.REQUEST, idHi, idLo, timeMs, attempt, body);
}

function sealWords(
  key: SealKey,
  type: SealedType,
  idHi: number,
  idLo: number,
  timeMs: number,
  attempt: number,
  body: Uint8Array,
): Buffer {
  if (!isWord(idHi) || !isWord(idLo))
    throw new RangeError('id words must be integers in 0 … 2^32 − 1');
  if (!Number.isSafeInteger(timeMs) || timeMs < 0)
    throw new RangeError('timeMs must be a safe integer ≥ 0');
  if (!Number.isInteger(attempt) || attempt < 1 || attempt > MAX_ATTEMPT)
    throw new RangeError('attempt must be an integer in 1 … 65535');
  const out = Buffer.allocUnsafe(SEALED_OVERHEAD + body.length);
  out[0] = SEALED_MAGIC;
  out[1] = SEALED_VERSION;
  out[2] = type;
  if (nonceOffset + NONCE_BYTES > noncePool.length) {
    noncePool = randomFillSync(Buffer.allocUnsafe(NONCE_POOL_BYTES));
    nonceOffset = 0;
  }
  const pool = noncePool;
  for (let i = 0; i < NONCE_BYTES; i++) out[HEADER_BYTES + i] = pool[nonceOffset + i] ?? 0;
  nonceOffset += NONCE_BYTES;
  const at = HEADER_BYTES + NONCE_BYTES;
  writeWord(out, at, idHi);
  writeWord(out, at + 4, idLo);
  writeWord(out, at + 8, Math.floor(timeMs / 2 ** 32));
  writeWord(out, at + 12, timeMs % 2 ** 32);
  out[at + 16] = attempt >>> 8;
  out[at + 17] = attempt;
  out.set(body, at + INNER_BYTES);
  currentAead().seal(key, out);
  return out;
}

function isWord(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** Writes a uint32, big-endian (without Buffer's bounds-checking call). */
function writeWord(out: Buffer, at: number, word: number): void {
  out[at] = word >>> 24;
  out[at + 1] = word >>> 16;
  out[at + 2] = word >>> 8;
  out[at + 3] = word;
}
