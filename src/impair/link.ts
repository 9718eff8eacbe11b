/**
 * One direction of the impaired path, free of sockets: datagrams go in with `submit(now)`,
 * come out of `takeDue(now)`, and `nextDueAt()` says when to look again. Everything between
 * is the model of a bottleneck link:
 *
 *   arrival → decision (impair.ts: blackout, loss, duplicate, corrupt, jitter, reorder)
 *           → queue limit (tail drop, counted) → token bucket (rate) → delay + jitter → out
 *
 * All waiting datagrams of the direction sit in one TimerQueue; the proxy arms one timer for
 * the earliest. `queueLimit` bounds what is held (delayed, paced or held back), as netem's
 * `limit` does: a large rate × delay product needs a large limit, or it drops.
 *
 * A datagram whose release time falls inside a blackout is dropped too, so nothing at all
 * crosses the link during the window.
 */
import {
  IMPAIRMENT_DEFAULTS,
  Impairment,
  flipBit,
  inBlackout,
  type ImpairmentSpec,
  type LossReason,
} from '../impair.js';
import type { Rng } from '../rng.js';
import { TimerQueue } from './timer-queue.js';
import { TokenBucket } from './token-bucket.js';

/** Counters of one direction (cumulative, except `queued`). */
export interface LinkCounters {
  /** Datagrams that entered. */
  received: number;
  /** Datagrams that came out (duplicates included). */
  forwarded: number;
  /** Datagrams lost for any reason (the sum of the next four). */
  lost: number;
  /** Lost to `loss` or `lossBurst`. */
  lostRandom: number;
  /** Lost in a blackout window. */
  lostBlackout: number;
  /** Dropped because the queue was full (`queueLimit`). */
  queueDrops: number;
  /** Extra copies made. */
  duplicated: number;
  /** Datagrams held back behind later ones. */
  reordered: number;
  /** Copies with one bit flipped. */
  corrupted: number;
  /** Datagrams that came out after a later one (held back, or overtaken through jitter). */
  outOfOrder: number;
  /** Sum over forwarded datagrams of the time spent inside, ms (for the mean). */
  delayTotalMs: number;
  /** Datagrams inside now. */
  queued: number;
  /** The most datagrams inside at once. */
  queuePeak: number;
}

/** A decision worth reporting, with the route of its datagram. */
export type LinkEvent<T> =
  | { kind: 'lost'; seq: number; bytes: number; route: T; reason: LossReason }
  | { kind: 'duplicated'; seq: number; bytes: number; route: T }
  | { kind: 'corrupted'; seq: number; bytes: number; route: T; bit: number; copy: boolean }
  | { kind: 'reordered'; seq: number; bytes: number; route: T };

/** A datagram coming out. */
export interface Delivery<T> {
  /** The datagram's number in this direction (from 1; a duplicate has its original's). */
  seq: number;
  /** The bytes to send (a corrupted copy is a new buffer). */
  data: Uint8Array;
  route: T;
  /** True for the extra copy of a duplicated datagram. */
  copy: boolean;
  /** Time spent inside, ms. */
  delayMs: number;
}

interface Held<T> {
  seq: number;
  data: Uint8Array;
  route: T;
  copy: boolean;
  arrivedAt: number;
  /** When it is due by its own delay and rate. */
  releaseAt: number;
  /** The time of its live TimerQueue entry; entries with another time are stale. */
  dueAt: number;
  /** Later datagrams still to go out before a held-back one is released; 0 when not held. */
  gapLeft: number;
  done: boolean;
}

/** Options of a {@link Link}. */
export interface LinkOptions {
  /** Random source of the decisions. */
  rng: Rng;
  /** The clock reading (ms) of the start, for blackout windows. Default 0. */
  startMs?: number;
}

/**
 * One direction of the impaired path.
 * @example
 * const link = new Link<string>({ delayMs: 100, rateBitsPerSecond: 1e6 }, { rng: seededRng(1) });
 * link.submit(datagram, 'client-a', now, onDecision);
 * // later, when now ≥ link.nextDueAt():
 * link.takeDue(now, ({ data, route }) => send(data, route), onDecision);
 */
export class Link<T> {
  readonly counters: LinkCounters = {
    received: 0,
    forwarded: 0,
    lost: 0,
    lostRandom: 0,
    lostBlackout: 0,
    queueDrops: 0,
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    outOfOrder: 0,
    delayTotalMs: 0,
    queued: 0,
    queuePeak: 0,
  };
  readonly #impairment: Impairment;
  readonly #queue = new TimerQueue<Held<T>>();
  readonly #held: Held<T>[] = [];
  readonly #bucket: TokenBucket | undefined;
  readonly #limit: number;
  readonly #gap: number;
  readonly #holdMs: number;
  readonly #startMs: number;
  readonly #blackouts: ImpairmentSpec['blackouts'];
  #seq = 0;
  #maxOut = 0;

  /** @throws RangeError / TypeError on an invalid spec. */
  constructor(spec: ImpairmentSpec, options: LinkOptions) {
    this.#impairment = new Impairment(spec, options.rng);
    this.#bucket =
      spec.rateBitsPerSecond === undefined
        ? undefined
        : new TokenBucket(
            spec.rateBitsPerSecond,
            spec.burstBytes ?? IMPAIRMENT_DEFAULTS.burstBytes,
          );
    this.#limit = spec.queueLimit ?? IMPAIRMENT_DEFAULTS.queueLimit;
    this.#gap = spec.reorderGap ?? IMPAIRMENT_DEFAULTS.reorderGap;
    this.#holdMs = spec.reorderHoldMs ?? IMPAIRMENT_DEFAULTS.reorderHoldMs;
    this.#startMs = options.startMs ?? 0;
    this.#blackouts = spec.blackouts;
  }

  /** The spec this link applies. */
  get spec(): Readonly<ImpairmentSpec> {
    return this.#impairment.spec;
  }

  /**
   * A datagram arrives at `now` (ms). Its decisions are reported to `onEvent`; what goes on
   * waits in the queue until `takeDue`. Returns the datagram's sequence number.
   */
  submit(data: Uint8Array, route: T, now: number, onEvent: (e: LinkEvent<T>) => void): number {
    const c = this.counters;
    const seq = ++this.#seq;
    const bytes = data.length;
    c.received++;
    const d = this.#impairment.decide(bytes, now - this.#startMs);
    if (d.fate === 'lost') {
      this.#lose(seq, bytes, route, d.reason, onEvent);
      return seq;
    }
    // Each copy needs a place in the queue; the original first (tail drop, as netem).
    let first = true;
    for (const plan of d.copies) {
      const copy = !first;
      first = false;
      if (c.queued >= this.#limit) {
        this.#lose(seq, bytes, route, 'queue-full', onEvent);
        continue;
      }
      if (copy) {
        c.duplicated++;
        onEvent({ kind: 'duplicated', seq, bytes, route });
      }
      let out = data;
      if (plan.corruptBit !== undefined) {
        out = flipBit(data, plan.corruptBit);
        c.corrupted++;
        onEvent({ kind: 'corrupted', seq, bytes, route, bit: plan.corruptBit, copy });
      }
      const leave = this.#bucket === undefined ? now : this.#bucket.reserve(bytes, now);
      const releaseAt = leave + plan.delayMs;
      const held = !copy && d.reorder;
      const dueAt = held ? releaseAt + this.#holdMs : releaseAt;
      const item: Held<T> = {
        seq,
        data: out,
        route,
        copy,
        arrivedAt: now,
        releaseAt,
        dueAt,
        gapLeft: held ? this.#gap : 0,
        done: false,
      };
      if (held) {
        c.reordered++;
        this.#held.push(item);
        onEvent({ kind: 'reordered', seq, bytes, route });
      }
      this.#queue.push(dueAt, item);
      c.queued++;
      if (c.queued > c.queuePeak) c.queuePeak = c.queued;
    }
    return seq;
  }

  /** When the next datagram is due (ms), or undefined when nothing waits. */
  nextDueAt(): number | undefined {
    return this.#queue.peekTime();
  }

  /**
   * Hands every datagram due at `now` to `deliver`, in release order. A datagram whose release
   * time falls in a blackout is reported lost instead.
   */
  takeDue(
    now: number,
    deliver: (d: Delivery<T>) => void,
    onEvent: (e: LinkEvent<T>) => void,
  ): void {
    for (;;) {
      const entry = this.#queue.popDue(now);
      if (entry === undefined) return;
      const item = entry.item;
      if (item.done || item.dueAt !== entry.at) continue; // released early, or re-queued
      if (item.gapLeft > 0) {
        // The hold ran out before enough later datagrams came: release it anyway.
        item.gapLeft = 0;
        this.#unhold(item);
      }
      this.#out(item, now, deliver, onEvent);
    }
  }

  /** Drops everything still inside (the proxy is closing). Returns how many were dropped. */
  clear(): number {
    const n = this.counters.queued;
    this.#queue.clear();
    this.#held.length = 0;
    this.counters.queued = 0;
    return n;
  }

  #out(
    item: Held<T>,
    now: number,
    deliver: (d: Delivery<T>) => void,
    onEvent: (e: LinkEvent<T>) => void,
  ): void {
    const c = this.counters;
    item.done = true;
    c.queued--;
    if (this.#blackouts !== undefined && inBlackout(this.#blackouts, item.dueAt - this.#startMs)) {
      this.#lose(item.seq, item.data.length, item.route, 'blackout', onEvent);
      return;
    }
    if (item.seq < this.#maxOut) c.outOfOrder++;
    else this.#maxOut = item.seq;
    const delayMs = now - item.arrivedAt;
    c.forwarded++;
    c.delayTotalMs += delayMs;
    deliver({ seq: item.seq, data: item.data, route: item.route, copy: item.copy, delayMs });
    if (item.copy || this.#held.length === 0) return;
    // A later datagram went out: the held-back ones before it are one step nearer release.
    for (const h of [...this.#held]) {
      if (h.seq >= item.seq || --h.gapLeft > 0) continue;
      this.#unhold(h);
      if (h.releaseAt <= now) {
        h.dueAt = now;
        this.#out(h, now, deliver, onEvent);
      } else {
        h.dueAt = h.releaseAt;
        this.#queue.push(h.dueAt, h);
      }
    }
  }

  #unhold(item: Held<T>): void {
    const i = this.#held.indexOf(item);
    if (i >= 0) this.#held.splice(i, 1);
  }

  #lose(
    seq: number,
    bytes: number,
    route: T,
    reason: LossReason,
    onEvent: (e: LinkEvent<T>) => void,
  ): void {
    const c = this.counters;
    c.lost++;
    if (reason === 'blackout') c.lostBlackout++;
    else if (reason === 'queue-full') c.queueDrops++;
    else c.lostRandom++;
    onEvent({ kind: 'lost', seq, bytes, route, reason });
  }
}
