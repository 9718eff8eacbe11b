/**
 * Big datagrams without sockets: the payload, its split into pieces, the check of each echo
 * against what was sent, and the arithmetic of IP fragmentation. `bigsend` and `probe` own
 * the sockets; everything here is pure and tested with fast-check (test/chunks.test.ts).
 */
import { createHash } from 'node:crypto';
import type { Family } from './address.js';

/** Largest payload `bigsend` builds: 16 MiB (a safe bound: the whole payload is held in memory). */
export const MAX_BIG_BYTES = 16 * 1024 * 1024;

/** Most pieces `bigsend` sends: 65,536 (the matcher keeps one entry per piece). */
export const MAX_CHUNKS = 65536;

/** Bytes of one pattern record: 7 hex digits of the record's number and a newline. */
const RECORD_BYTES = 8;

/**
 * The sizes of `count` pieces of `total` bytes, in order. They differ by at most one byte:
 * the first `total % count` pieces carry one byte more (80,001 in 16 → one of 5,001, then
 * fifteen of 5,000).
 * @param total - bytes to split, ≥ 1.
 * @param count - pieces, 1 ≤ count ≤ total.
 * @throws RangeError naming the argument when out of range.
 * @example splitSizes(10, 4) // [3, 3, 2, 2]
 */
export function splitSizes(total: number, count: number): number[] {
  if (!Number.isSafeInteger(total) || total < 1) {
    throw new RangeError(`total must be an integer ≥ 1 (got ${total})`);
  }
  if (!Number.isSafeInteger(count) || count < 1 || count > total) {
    throw new RangeError(`count must be an integer from 1 to total (${total}) (got ${count})`);
  }
  const base = Math.floor(total / count);
  const extra = total % count;
  return Array.from({ length: count }, (_, i) => (i < extra ? base + 1 : base));
}

/**
 * Splits a payload into `count` consecutive pieces (views, no copy) whose sizes follow
 * {@link splitSizes}; concatenated they are the payload again.
 * @throws RangeError when `count` is out of range.
 */
export function splitPayload(payload: Uint8Array, count: number): Buffer[] {
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  let offset = 0;
  return splitSizes(buf.length, count).map((size) => {
    const piece = buf.subarray(offset, offset + size);
    offset += size;
    return piece;
  });
}

/** How `bigsend` fills its payload. */
export type PayloadFill =
  /** One ASCII character repeated (the lab: `z`). */
  | { fill: string }
  /**
   * A counter: 8-byte records `%07x\n` numbering the record. Any piece of 15 bytes or more
   * contains a whole record and so differs from every other piece: a missing echo is named exactly.
   */
  | { pattern: true };

/**
 * Builds the payload of `size` bytes.
 * @param size - bytes, 1 to {@link MAX_BIG_BYTES}.
 * @throws RangeError for a bad size or a fill that is not exactly one ASCII character.
 * @example makePayload(4, { fill: 'z' }).toString() // 'zzzz'
 */
export function makePayload(size: number, how: PayloadFill): Buffer {
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_BIG_BYTES) {
    throw new RangeError(`size must be an integer from 1 to ${MAX_BIG_BYTES} (got ${size})`);
  }
  if ('pattern' in how) {
    const records = Math.ceil(size / RECORD_BYTES);
    const out = Buffer.allocUnsafe(records * RECORD_BYTES);
    for (let r = 0; r < records; r++) {
      out.write(`${(r % 0x10000000).toString(16).padStart(7, '0')}\n`, r * RECORD_BYTES, 'latin1');
    }
    return out.subarray(0, size);
  }
  if (!/^[\x20-\x7e]$/.test(how.fill)) {
    throw new RangeError(`fill must be one printable ASCII character (got '${how.fill}')`);
  }
  return Buffer.alloc(size, how.fill, 'latin1');
}

/** What an echo turned out to be. */
export type EchoMatch =
  /** A byte-exact copy of a piece not yet echoed: that piece is verified. */
  | { kind: 'piece'; index: number }
  /** A copy of a piece already echoed (the network or the peer duplicated it). */
  | { kind: 'duplicate'; index: number }
  /** A copy of nothing that was sent: truncated, corrupted, or another datagram. */
  | { kind: 'unexpected' };

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function keyOf(data: Uint8Array): string {
  // The hash only narrows the candidates; a match is always confirmed byte for byte.
  return `${data.length}:${createHash('sha1').update(data).digest('base64')}`;
}

/**
 * Matches echoes to the pieces sent, verifying content byte for byte. Pieces with equal
 * bytes (a one-character fill split evenly) cannot be told apart: an echo of such a piece
 * counts for the lowest-numbered one still missing, so the count of missing pieces is
 * always right and their indices are exact whenever the pieces differ (`{ pattern: true }`).
 */
export class EchoMatcher {
  readonly #pieces: readonly Uint8Array[];
  /** Indices of the pieces with the same key, ascending, and how many of them are echoed. */
  readonly #groups = new Map<string, { indices: number[]; echoed: number }>();
  readonly #echoed: boolean[];
  #count = 0;

  constructor(pieces: readonly Uint8Array[]) {
    this.#pieces = pieces;
    this.#echoed = pieces.map(() => false);
    pieces.forEach((p, i) => {
      const key = keyOf(p);
      const g = this.#groups.get(key);
      if (g) g.indices.push(i);
      else this.#groups.set(key, { indices: [i], echoed: 0 });
    });
  }

  /** Classifies one echo and records it. */
  match(data: Uint8Array): EchoMatch {
    const g = this.#groups.get(keyOf(data));
    if (g === undefined) return { kind: 'unexpected' };
    const index = g.indices[g.echoed];
    const last = g.indices.at(-1) ?? 0;
    const piece = this.#pieces[index ?? last];
    if (piece === undefined || !equalBytes(piece, data)) {
      return { kind: 'unexpected' }; // a hash collision: not a copy after all
    }
    if (index === undefined) return { kind: 'duplicate', index: last };
    g.echoed++;
    this.#echoed[index] = true;
    this.#count++;
    return { kind: 'piece', index };
  }

  /** How many pieces have been verified. */
  get echoed(): number {
    return this.#count;
  }

  /** True when every piece came back. */
  get complete(): boolean {
    return this.#count === this.#pieces.length;
  }

  /** The indices of the pieces not echoed yet, ascending. */
  missing(): number[] {
    const out: number[] = [];
    this.#echoed.forEach((done, i) => {
      if (!done) out.push(i);
    });
    return out;
  }

  /** Bytes of the pieces verified so far. */
  echoedBytes(): number {
    let n = 0;
    this.#echoed.forEach((done, i) => {
      if (done) n += this.#pieces[i]?.length ?? 0;
    });
    return n;
  }
}

/** Bytes of the IP header without options: 20 for IPv4, 40 for IPv6. */
export function ipHeaderBytes(family: Family): number {
  return family === 'udp6' ? 40 : 20;
}

/**
 * How many IP packets a UDP datagram of `payloadBytes` becomes on a link of `mtu` bytes.
 * 1 when it fits (payload + 8 + IP header ≤ MTU). Otherwise the UDP datagram (payload + 8-byte
 * header) is cut into fragments whose data is a multiple of 8 bytes (RFC 791 §3.2; RFC 8200 §4.5,
 * where each fragment also carries an 8-byte Fragment header): 1,480 bytes a fragment over
 * IPv4 on a 1,500-byte MTU, 1,448 over IPv6.
 * @param mtu - the link MTU in bytes: ≥ 68 for IPv4 (RFC 791), ≥ 1,280 for IPv6 (RFC 8200).
 * @throws RangeError for a negative payload or an MTU below the family's minimum.
 * @example ipFragments(5000, 1500, 'udp4') // 4
 */
export function ipFragments(payloadBytes: number, mtu: number, family: Family): number {
  if (!Number.isSafeInteger(payloadBytes) || payloadBytes < 0) {
    throw new RangeError(`payloadBytes must be an integer ≥ 0 (got ${payloadBytes})`);
  }
  const minMtu = family === 'udp6' ? 1280 : 68;
  if (!Number.isSafeInteger(mtu) || mtu < minMtu) {
    throw new RangeError(`mtu must be an integer ≥ ${minMtu} (got ${mtu})`);
  }
  const ip = ipHeaderBytes(family);
  const udp = payloadBytes + 8;
  if (ip + udp <= mtu) return 1;
  const fragmentHeader = family === 'udp6' ? 8 : 0;
  const perFragment = Math.floor((mtu - ip - fragmentHeader) / 8) * 8;
  return Math.ceil(udp / perFragment);
}

/** Data bytes each IP fragment carries on a link of `mtu` bytes (1,480 for IPv4 at 1,500). */
export function fragmentDataBytes(mtu: number, family: Family): number {
  const fragmentHeader = family === 'udp6' ? 8 : 0;
  return Math.floor((mtu - ipHeaderBytes(family) - fragmentHeader) / 8) * 8;
}

/** The socket family whose limits apply to a destination (an IPv4-mapped `::ffff:a.b.c.d` is IPv4). */
export function familyOfAddress(address: string): Family {
  return address.includes(':') && !address.toLowerCase().startsWith('::ffff:') ? 'udp6' : 'udp4';
}
