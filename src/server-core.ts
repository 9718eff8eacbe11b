/**
 * The server's reply logic, free of sockets: it takes a batch of received datagrams and
 * produces a batch of replies and events. The dgram backend hands it batches of one; a
 * batched backend can hand it many (see ../shared/STYLE.md, "the server thinks in batches").
 *
 * Two modes: plain (the lab's text protocol, every datagram answered) and sealed (with a key:
 * only authenticated, fresh, not replayed requests are answered; everything else is rejected
 * silently and counted — docs/sealed.md). `--rate-limit` applies to both. With no key and no
 * rate limit the per-datagram work is what it always was. Its events and counters are declared in
 * server-events.ts.
 */
import { SEALED_COUNTS, type SealedPath } from './backend/types.js';
import type { Endpoint } from './events.js';
import type { SealKey } from './keys.js';
import { RateLimiter } from './rate-limit.js';
import {
  REJECT_REASONS,
  type CoreEvent,
  type Datagram,
  type MessageEvent,
  type RejectReason,
  type Reply,
  type ServerCounters,
} from './server-events.js';
import { ReplayCache } from './replay.js';
import type { Rng } from './rng.js';
import { defaultRng } from './rng.js';
import { escapePayload } from './wire/escape.js';
import { OpenedDatagram, openInto, sealReply, SealedType } from './wire/sealed.js';
import { idLength, replyText } from './wire/text.js';

/** The hardening options, shared by {@link ServerCoreOptions} and the server's options. */
export interface HardeningOptions {
  /** Sealed mode: accept only datagrams sealed with this key, and seal every reply. */
  key?: SealKey;
  /** Sealed mode: accept requests whose time is within ±windowMs of the server's clock. Default 30,000. */
  windowMs?: number;
  /** Sealed mode: the most request IDs remembered (replay cache entries). Default 65,536. */
  replayCacheSize?: number;
  /** Replies per second per source address (token bucket). Default: no limit. */
  rateLimit?: number;
  /** Bucket size: replies a quiet source may get at once. Default max(1, ⌈rateLimit⌉). */
  rateLimitBurst?: number;
  /** The most source addresses tracked by the rate limiter. Default 4,096. */
  rateLimitSources?: number;
  /** The wall clock in ms since 1970 (timestamps, window, buckets). Default Date.now. */
  now?: () => number;
}

/** Options of the reply logic. */
export interface ServerCoreOptions extends HardeningOptions {
  /** Probability in [0, 1] that a datagram is dropped before any reply (the lab's remote server: 0.5). Default 0. */
  dropProbability?: number;
  /** Random source for drops (seeded for `--seed`). Default Math.random. */
  rng?: Rng;
  /** Build per-datagram events (`message`, `replied`, `dropped`, …). Off for `--quiet`. Default true. */
  perDatagramEvents?: boolean;
}

/** What the `listening` event says about a hardened server (nothing for a plain one). */
export interface HardeningInfo {
  /** The key ID (a fingerprint, not the key) in sealed mode. */
  keyId?: string;
  windowMs?: number;
  replayCacheSize?: number;
  rateLimit?: number;
  /** The bucket size with a rate limit: replies a quiet source may get at once. */
  rateLimitBurst?: number;
}

/** Picks the hardening options out of a larger options object (for the socket backends). */
export function hardeningOf(o: HardeningOptions): HardeningOptions {
  const out: HardeningOptions = {};
  if (o.key !== undefined) out.key = o.key;
  if (o.windowMs !== undefined) out.windowMs = o.windowMs;
  if (o.replayCacheSize !== undefined) out.replayCacheSize = o.replayCacheSize;
  if (o.rateLimit !== undefined) out.rateLimit = o.rateLimit;
  if (o.rateLimitBurst !== undefined) out.rateLimitBurst = o.rateLimitBurst;
  if (o.rateLimitSources !== undefined) out.rateLimitSources = o.rateLimitSources;
  if (o.now !== undefined) out.now = o.now;
  return out;
}

function zeroByReason(): Record<RejectReason, number> {
  const r = {} as Record<RejectReason, number>;
  for (const k of REJECT_REASONS) r[k] = 0;
  return r;
}

/** The `message` event of a datagram (built without a spread: this runs for every datagram). */
function messageEvent(
  data: Uint8Array,
  from: Endpoint,
  id: string | undefined,
  time: string,
): MessageEvent {
  const e: MessageEvent = {
    event: 'message',
    time,
    from,
    bytes: data.length,
    text: escapePayload(data),
  };
  if (id !== undefined) e.id = id;
  return e;
}

/** Whether `key` is a SealKey (by shape: no need to load keys.js and node:crypto to ask). */
function isSealKey(key: unknown): key is SealKey {
  const k = key as { id?: unknown; secret?: { export?: unknown } } | null;
  return (
    typeof k === 'object' &&
    k !== null &&
    typeof k.id === 'string' &&
    typeof k.secret?.export === 'function'
  );
}

/** How many distinct request lengths keep a ready-made reply (about 64 KiB of buffers at most). */
const REPLY_CACHE_SIZE = 1024;

/**
 * The lab's reply logic: one reply per datagram, with the request ID echoed when present; in sealed
 * mode one sealed reply per fresh authenticated request.
 * @example
 * const core = new ServerCore({ key, rateLimit: 100 });
 * core.handleBatch([{ data, from }], new Date().toISOString(), replies, events);
 */
export class ServerCore {
  readonly counters: ServerCounters = {
    received: 0,
    replied: 0,
    dropped: 0,
    sendFailed: 0,
    rejected: 0,
    rejectedBy: zeroByReason(),
    retransmissions: 0,
    rateLimited: 0,
  };
  readonly #drop: number;
  readonly #rng: Rng;
  readonly #events: boolean;
  readonly #key: SealKey | undefined;
  readonly #replay: ReplayCache | undefined;
  readonly #limiter: RateLimiter | undefined;
  readonly #now: () => number;
  /**
   * The plain reply (no ID) for each request length seen, so that a busy server does not format
   * and encode the same text for every datagram. Bounded: at most REPLY_CACHE_SIZE lengths are
   * kept (each text is under 60 bytes). Replies are never written to after creation, so one
   * buffer can be in many sends at once.
   */
  readonly #replies = new Map<number, Buffer>();
  /** The fields of the sealed datagram being handled (reused: no objects per datagram). */
  readonly #opened = new OpenedDatagram();
  /** The counters of a socket that answers sealed requests itself, and how much of them is in `counters`. */
  #native: { counts: Float64Array; seen: Float64Array } | undefined;

  /** @throws RangeError for an option out of range (names the option). */
  constructor(options: ServerCoreOptions = {}) {
    const drop = options.dropProbability ?? 0;
    if (!(drop >= 0 && drop <= 1)) throw new RangeError('dropProbability must be in [0, 1]');
    this.#drop = drop;
    this.#rng = options.rng ?? defaultRng;
    this.#events = options.perDatagramEvents ?? true;
    this.#now = options.now ?? Date.now;
    if (options.key !== undefined && !isSealKey(options.key))
      throw new TypeError('key must be a SealKey (SealKey.generate(), loadKeyFile())');
    this.#key = options.key;
    if (this.#key === undefined) {
      if (options.windowMs !== undefined || options.replayCacheSize !== undefined)
        throw new RangeError('windowMs and replayCacheSize need a key (sealed mode)');
    } else {
      this.#replay = new ReplayCache({
        notBeforeMs: this.#now(),
        ...(options.windowMs === undefined ? {} : { windowMs: options.windowMs }),
        ...(options.replayCacheSize === undefined ? {} : { capacity: options.replayCacheSize }),
      });
    }
    if (options.rateLimit !== undefined) {
      this.#limiter = new RateLimiter({
        ratePerSecond: options.rateLimit,
        ...(options.rateLimitBurst === undefined ? {} : { burst: options.rateLimitBurst }),
        ...(options.rateLimitSources === undefined ? {} : { maxSources: options.rateLimitSources }),
      });
    } else if (options.rateLimitBurst !== undefined || options.rateLimitSources !== undefined) {
      throw new RangeError('rateLimitBurst and rateLimitSources need rateLimit');
    }
  }

  /** What the `listening` event reports about this server's hardening. */
  get info(): HardeningInfo {
    const info: HardeningInfo = {};
    if (this.#key !== undefined && this.#replay !== undefined) {
      info.keyId = this.#key.id;
      info.windowMs = this.#replay.windowMs;
      info.replayCacheSize = this.#replay.capacity;
    }
    if (this.#limiter !== undefined) {
      info.rateLimit = this.#limiter.ratePerSecond;
      info.rateLimitBurst = this.#limiter.burst;
    }
    return info;
  }

  /** Entries in the replay cache now (0 in plain mode); never more than `replayCacheSize`. */
  get replayEntries(): number {
    const native = this.#native;
    if (native !== undefined) return native.counts[SEALED_COUNTS.indexOf('replayEntries')] ?? 0;
    return this.#replay?.size ?? 0;
  }

  /**
   * What a socket needs to answer this core's sealed requests itself (the native backend, in C:
   * docs/native.md), when nothing but the replay rules decides a reply: sealed mode, no
   * per-datagram events, no drops, no rate limit, and the real clock. Else undefined.
   */
  nativeSealed(): SealedPath | undefined {
    const replay = this.#replay;
    if (this.#key === undefined || replay === undefined || this.#events || this.#drop > 0) return;
    if (this.#limiter !== undefined || this.#now !== Date.now) return;
    return {
      key: this.#key,
      windowMs: replay.windowMs,
      capacity: replay.capacity,
      notBeforeMs: replay.notBeforeMs,
    };
  }

  /**
   * The socket answers the sealed requests from now on (after {@link nativeSealed}), counting in
   * `counts` (SEALED_COUNTS order); {@link syncNative} adds them to `counters`.
   */
  attachNative(counts: Float64Array): void {
    this.#native = { counts, seen: new Float64Array(counts.length) };
  }

  /** Adds to `counters` what the socket answering sealed requests counted since the last call. */
  syncNative(): void {
    const native = this.#native;
    if (native === undefined) return;
    const c = this.counters;
    SEALED_COUNTS.forEach((name, i) => {
      const delta = (native.counts[i] ?? 0) - (native.seen[i] ?? 0);
      native.seen[i] = native.counts[i] ?? 0;
      if (delta === 0 || name === 'replayEntries') return;
      if (name in c.rejectedBy) c.rejectedBy[name as RejectReason] += delta;
      else
        c[name as 'received' | 'replied' | 'rejected' | 'retransmissions' | 'sendFailed'] += delta;
    });
  }

  /** Sources in the rate limiter's table now (0 without a limit); never more than `rateLimitSources`. */
  get rateLimitEntries(): number {
    return this.#limiter?.size ?? 0;
  }

  #plainReply(length: number): Buffer {
    let reply = this.#replies.get(length);
    if (reply === undefined) {
      reply = Buffer.from(replyText(length), 'latin1');
      if (this.#replies.size < REPLY_CACHE_SIZE) this.#replies.set(length, reply);
    }
    return reply;
  }

  /** `<ID>; ` (copied from the request) and the plain reply: withId(id, replyText(n)) as bytes. */
  #idReply(data: Uint8Array, idDigits: number): Buffer {
    const plain = this.#plainReply(data.length);
    const head = idDigits + 2;
    const reply = Buffer.allocUnsafe(head + plain.length);
    for (let i = 0; i < head; i++) reply[i] = data[i] ?? 0;
    reply.set(plain, head);
    return reply;
  }

  /**
   * Handles a batch: appends the replies to `replies` and the events to `events`.
   * @param time - the ISO time stamped on this batch's events.
   */
  handleBatch(
    batch: readonly Datagram[],
    time: string,
    replies: Reply[],
    events: CoreEvent[],
  ): void {
    if (this.#key !== undefined) {
      this.#handleSealed(this.#key, batch, time, replies, events);
      return;
    }
    const limiter = this.#limiter;
    const nowMs = limiter === undefined ? 0 : this.#now();
    for (const { data, from } of batch) {
      this.counters.received++;
      const idDigits = idLength(data);
      // The ID as text only for the events; the reply copies its bytes.
      const id =
        idDigits === 0 || !this.#events
          ? undefined
          : String.fromCharCode(...data.subarray(0, idDigits));
      if (this.#drop > 0 && this.#rng() < this.#drop) {
        this.counters.dropped++;
        if (this.#events) {
          events.push(messageEvent(data, from, id, time));
          events.push({ event: 'dropped', time, from, bytes: data.length });
        }
        continue;
      }
      if (limiter !== undefined && !limiter.allow(from.address, nowMs)) {
        this.#rateLimited(from, data.length, time, events);
        continue;
      }
      const reply = idDigits === 0 ? this.#plainReply(data.length) : this.#idReply(data, idDigits);
      replies.push({ data: reply, to: from });
      this.counters.replied++;
      if (this.#events) {
        events.push(messageEvent(data, from, id, time));
        events.push({ event: 'replied', time, to: from, bytes: reply.length });
      }
    }
  }

  #handleSealed(
    key: SealKey,
    batch: readonly Datagram[],
    time: string,
    replies: Reply[],
    events: CoreEvent[],
  ): void {
    const replay = this.#replay;
    if (replay === undefined) return;
    const nowMs = this.#now();
    for (const { data, from } of batch) {
      this.counters.received++;
      if (this.#drop > 0 && this.#rng() < this.#drop) {
        this.counters.dropped++;
        if (this.#events) events.push({ event: 'dropped', time, from, bytes: data.length });
        continue;
      }
      // The tag is verified before any field is read (openInto); nothing is answered to a
      // datagram that fails any check: no reflection, and nothing an attacker could learn from.
      const m = this.#opened;
      const failure = openInto(key, data, m);
      if (failure !== undefined) {
        this.#reject(from, data.length, failure, time, events);
        continue;
      }
      if (m.type !== SealedType.REQUEST) {
        this.#reject(from, data.length, 'wrong-type', time, events);
        continue;
      }
      // The ID as its two words: the replay cache and the reply need no BigInt.
      const verdict = replay.checkWords(m.idHi, m.idLo, m.timeMs, m.attempt, nowMs);
      let reply: Uint8Array;
      if (verdict.kind === 'new') {
        // The plain reply is copied into the sealed datagram.
        reply = sealReply(key, m, nowMs, this.#plainReply(m.bodyLength));
        replay.rememberWords(m.idHi, m.idLo, m.timeMs, m.attempt, reply);
        if (this.#events) {
          events.push({
            event: 'message',
            time,
            from,
            bytes: m.bodyLength,
            text: escapePayload(m.body()),
            id: m.id().toString(),
            sealed: true,
            attempt: m.attempt,
          });
        }
      } else if (verdict.kind === 'retransmission') {
        reply = verdict.reply;
        this.counters.retransmissions++;
        if (this.#events) {
          events.push({
            event: 'retransmission',
            time,
            from,
            id: m.id().toString(),
            attempt: m.attempt,
          });
        }
      } else {
        this.#reject(from, data.length, verdict.kind, time, events);
        continue;
      }
      // The request counts as answered (its ID is remembered) even when the bucket is empty: a
      // retransmission later gets the same reply, and a copy of this datagram stays a replay.
      if (this.#limiter !== undefined && !this.#limiter.allow(from.address, nowMs)) {
        this.#rateLimited(from, data.length, time, events);
        continue;
      }
      replies.push({ data: reply, to: from });
      this.counters.replied++;
      if (this.#events) events.push({ event: 'replied', time, to: from, bytes: reply.length });
    }
  }

  #reject(
    from: Endpoint,
    bytes: number,
    reason: RejectReason,
    time: string,
    events: CoreEvent[],
  ): void {
    this.counters.rejected++;
    this.counters.rejectedBy[reason]++;
    if (this.#events) events.push({ event: 'rejected', time, from, bytes, reason });
  }

  #rateLimited(from: Endpoint, bytes: number, time: string, events: CoreEvent[]): void {
    this.counters.rateLimited++;
    if (this.#events) events.push({ event: 'rate-limited', time, from, bytes });
  }
}
