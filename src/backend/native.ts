/**
 * The batched backend (Linux): the addon in native/ (udplab_mmsg.c) receives up to 64 datagrams
 * per recvmmsg into memory allocated once, calls back once per batch, and sends the replies with
 * one sendmmsg. Receive slots, metadata and the send staging area are ArrayBuffers shared with
 * the addon, so a batch crosses from C to JS and back without a copy per datagram on the C side
 * and with no N-API call per datagram. docs/native.md describes the layout and the limits.
 */
import { existsSync, statSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import { bindError, connectError } from '../errors.js';
import type { Endpoint } from '../events.js';
import type { SealKey } from '../keys.js';
import type { Datagram, Reply } from '../server-events.js';
import { checkConnectPort } from './dgram.js';
import {
  SEALED_COUNTS,
  type BackendOptions,
  type SealedLoadParams,
  type SealedLoadReplies,
  type SealedPath,
  type SocketBackend,
} from './types.js';

/** The environment variable that points the loader at another addon file (tests use it). */
export const NATIVE_ADDON_ENV = 'UDPLAB_NATIVE_ADDON';

/** Where the install script builds the addon (from build/src/backend/ to the package root). */
export const DEFAULT_ADDON_PATH = fileURLToPath(
  new URL('../../../native/build/Release/udplab_mmsg.node', import.meta.url),
);

/** An opaque socket handle of the addon. */
type Handle = object;

/** The addon's exports (native/udplab_mmsg.c). */
export interface NativeAddon {
  open(
    family: 4 | 6,
    address: string,
    port: number,
    queueLimit: number,
    recv: ArrayBuffer,
    recvMeta: ArrayBuffer,
    send: ArrayBuffer,
    sendMeta: ArrayBuffer,
    onBatch: (count: number) => void,
  ): Handle | number;
  send(handle: Handle, count: number): number;
  close(handle: Handle): number;
  /** connect(2) to a peer; 0 or -errno. */
  connect(handle: Handle, address: string, port: number): number;
  address(handle: Handle): [string, number];
  setBlocked(handle: Handle, blocked: boolean): void;
  /** [messages, datagrams] handed to sendmmsg so far: a UDP GSO message carries several. */
  sendCounts(handle: Handle): [number, number, number];
  /**
   * Answer sealed requests in C from now on (native/udplab_sealed.c); counts: SEALED_COUNTS
   * doubles. False when this process has no OpenSSL for it. Absent from addons built before it.
   */
  sealedServe?: (
    handle: Handle,
    secret: Uint8Array,
    windowMs: number,
    capacity: number,
    notBeforeMs: number,
    counts: ArrayBuffer,
  ) => boolean;
  /**
   * `udplab bench --key-file` in C (a connected socket): replies opened and matched on receipt
   * (kind at int32 5 of their metadata, request number as a double at LOAD_SEQ_AT), requests
   * sealed by sendSealed(), which returns the failures as send() does. Absent from older addons.
   */
  sealedLoad?: (
    handle: Handle,
    secret: Uint8Array,
    baseHi: number,
    baseLo: number,
    size: number,
  ) => boolean;
  sendSealed?: (handle: Handle, firstSeq: number, count: number) => number;
  readonly LOAD_SEQ_AT?: number;
  /** The C replay cache alone (test hooks): a handle, a verdict 0–4, [size, bytes]. */
  replayOpen?: (windowMs: number, capacity: number, notBeforeMs: number) => Handle;
  replayCheck?: (
    handle: Handle,
    hi: number,
    lo: number,
    timeMs: number,
    attempt: number,
    nowMs: number,
  ) => number;
  replaySize?: (handle: Handle) => [number, number];
  /** ChaCha20-Poly1305 (native/udplab_aead.c): absent when this Node has no OpenSSL to find. */
  aeadKey?: (secret: Uint8Array) => Handle;
  aeadSeal?: (key: Handle, datagram: Uint8Array) => boolean;
  aeadOpen?: (key: Handle, datagram: Uint8Array, out: Uint8Array) => boolean;
  /**
   * How the addon reaches the cipher: `primitives` (OpenSSL's ChaCha20 and Poly1305 called
   * directly, about twice as fast on short datagrams) or `evp` (OpenSSL's public EVP API: the
   * primitives are not exported by this Node, failed their self-test, or UDPLAB_AEAD_EVP_ONLY is set
   * to anything but empty or 0).
   */
  aeadPath?: 'primitives' | 'evp';
  readonly BATCH: number;
  readonly SLOT: number;
  readonly META: number;
  readonly TEXT_AT: number;
  /** The send slot meaning "to the connected peer". */
  readonly TO_PEER: number;
}

/** The addon, or why it is not there. */
export type NativeLoad = { addon: NativeAddon } | { reason: string };

const loaded = new Map<string, NativeLoad>();

/**
 * Loads the addon once per path.
 * @param path - the addon file, a relative path taken from the working directory. Default:
 * `$UDPLAB_NATIVE_ADDON` (likewise; empty counts as unset), else native/build/Release.
 * @returns the addon, or the reason it cannot be used (not Linux, not a `.node` file, cannot
 * load; a missing file: "not built" with how to build it at the default path, else "FILE does not
 * exist").
 */
export function loadNativeAddon(path?: string): NativeLoad {
  const named = path ?? addonFromEnv();
  // An absolute path as it is; a relative one from the working directory, as a user means it
  // (require() would take it from this module's folder, build/src/backend).
  const file = named === undefined ? DEFAULT_ADDON_PATH : resolve(named);
  let result = loaded.get(file);
  if (result === undefined) {
    result = tryLoad(file);
    loaded.set(file, result);
  }
  return result;
}

/** `$UDPLAB_NATIVE_ADDON`, or undefined when unset or empty (`UDPLAB_NATIVE_ADDON= udplab …`). */
function addonFromEnv(): string | undefined {
  const value = process.env[NATIVE_ADDON_ENV];
  return value === undefined || value === '' ? undefined : value;
}

function tryLoad(file: string): NativeLoad {
  if (process.platform !== 'linux')
    return { reason: `it is Linux-only (this is ${process.platform})` };
  const env = addonFromEnv();
  const named = env !== undefined && resolve(env) === file ? `, named by ${NATIVE_ADDON_ENV},` : '';
  // Only a compiled addon is ever loaded: require() would run a .js file (and parse a key file
  // as JavaScript), and would try FILE.js, FILE.json and FILE/index.js for a missing FILE.
  // process.dlopen() loads exactly this file as a shared object, or fails.
  if (!file.endsWith('.node')) return { reason: `${file}${named} is not a .node addon` };
  const stats = statSync(file, { throwIfNoEntry: false });
  if (stats === undefined) {
    // Only a missing addon at the default path is one the install did not build: a path the
    // caller or the environment named is that file missing, and the build hint would mislead
    // (test/native-loader.test.ts, 'a missing file the caller named').
    if (named !== '' || file !== DEFAULT_ADDON_PATH)
      return { reason: `${file}${named} does not exist` };
    return { reason: notBuiltReason(file) };
  }
  if (!stats.isFile()) return { reason: `${file}${named} is not a .node addon (not a file)` };
  try {
    const holder = { exports: {} as NativeAddon };
    process.dlopen(holder, file);
    const addon = holder.exports;
    if (typeof addon.open !== 'function' || typeof addon.connect !== 'function' || addon.BATCH < 1)
      return { reason: `${file} is not udplab's addon` };
    return { addon };
  } catch (err) {
    return {
      reason: `the addon cannot load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    };
  }
}

/**
 * Why the addon at its default path is missing: the install did not build it. Points at
 * node-gyp's log when the build ran (scripts/build-native.mjs writes native/build/build.log for
 * native/build/Release/udplab_mmsg.node); no log: the build never ran (UDPLAB_SKIP_NATIVE=1,
 * --ignore-scripts, not Linux at install), so it says how to build it.
 * @param file - the missing addon file, two folders below the folder that holds build.log
 */
export function notBuiltReason(file: string): string {
  const log = join(dirname(dirname(file)), 'build.log');
  const next = existsSync(log) ? `see ${log}` : 'build it with `npm run build:native`';
  return `the addon was not built at install (${file} is missing; ${next})`;
}

/**
 * A Node-style system error for a failed call of the addon (`errno` negative, as libuv's):
 * `syscall CODE address:port`, and without `:port` when the port is 0 — exactly as Node's own
 * socket errors (its exceptionWithHostPort), so that both backends give the same messages.
 */
function errnoError(
  errno: number,
  syscall: string,
  address: string,
  port: number,
): NodeJS.ErrnoException & { address?: string; port?: number } {
  const name = getSystemErrorName(errno);
  const details = port > 0 ? ` ${address}:${port}` : address === '' ? '' : ` ${address}`;
  const err: NodeJS.ErrnoException & { address?: string; port?: number } = new Error(
    `${syscall} ${name}${details}`,
  );
  err.errno = errno;
  err.code = name;
  err.syscall = syscall;
  err.address = address;
  if (port > 0) err.port = port;
  return err;
}

/** Calls `use` with the key's secret bytes, wiped as soon as it returns (or throws). */
function withSecret<T>(key: SealKey, use: (secret: Uint8Array) => T): T {
  const secret = key.secret.export();
  try {
    return use(secret);
  } finally {
    secret.fill(0);
  }
}

/** -EINVAL, as the addon returns errors. */
const EINVAL = -constants.errno.EINVAL;

/** Address strings of IPv4 senders, keyed by the raw address: no string built per datagram. */
const V4_CACHE_LIMIT = 4096;

const NO_BATCH: readonly Datagram[] = [];

/** The batched backend over the addon. */
class NativeBackend implements SocketBackend {
  readonly name = 'native';
  readonly address: Endpoint & { family: 'IPv4' | 'IPv6' };
  readonly #addon: NativeAddon;
  readonly #options: BackendOptions;
  readonly #handle: Handle;
  readonly #recv: ArrayBuffer;
  readonly #recvMeta: Buffer;
  readonly #recvInts: Int32Array;
  readonly #recvDoubles: Float64Array;
  readonly #send: Uint8Array;
  readonly #sendMeta: Buffer;
  readonly #sendInts: Int32Array;
  readonly #batch: Datagram[] = [];
  readonly #replies: Reply[] = [];
  readonly #v4 = new Map<number, string>();
  /** The connected peer: every datagram comes from it and goes to it. */
  readonly #peer: Endpoint | undefined;
  /** A sealed load's reply handler (sealedLoad()), and its per-batch arrays. */
  #load: { onReplies: SealedLoadReplies; kinds: Int32Array; seqs: Float64Array } | undefined;
  #closing: Promise<void> | undefined;

  constructor(addon: NativeAddon, options: BackendOptions) {
    if (options.connect !== undefined) checkConnectPort(options.connect); // before any socket
    const { BATCH, SLOT, META } = addon;
    this.#addon = addon;
    this.#options = options;
    this.#recv = new ArrayBuffer(BATCH * SLOT);
    const recvMeta = new ArrayBuffer(BATCH * META);
    this.#recvMeta = Buffer.from(recvMeta);
    this.#recvInts = new Int32Array(recvMeta);
    this.#recvDoubles = new Float64Array(recvMeta);
    // One datagram of any size always fits; small replies are staged 64 at a time.
    const send = new ArrayBuffer(SLOT * 4);
    this.#send = new Uint8Array(send);
    const sendMeta = new ArrayBuffer(BATCH * META);
    this.#sendMeta = Buffer.from(sendMeta);
    this.#sendInts = new Int32Array(sendMeta);
    const handle = addon.open(
      options.family === 'udp6' ? 6 : 4,
      options.address,
      options.port,
      options.sendQueueLimit,
      this.#recv,
      recvMeta,
      send,
      sendMeta,
      (count) => this.#onBatch(count),
    );
    if (typeof handle === 'number') {
      const err = errnoError(handle, 'bind', options.address, options.port);
      throw bindError(err, options.address, options.port);
    }
    this.#handle = handle;
    const peer = options.connect;
    this.#peer = peer === undefined ? undefined : { address: peer.address, port: peer.port };
    if (peer !== undefined) {
      let err: number | Error;
      try {
        // As libuv for a dgram socket: a peer not of the socket's family is EINVAL (the kernel
        // would say EAFNOSUPPORT, or connect an IPv6 socket to an IPv4 peer through ::ffff:).
        err = (options.family === 'udp6' ? isIPv6(peer.address) : isIPv4(peer.address))
          ? addon.connect(handle, peer.address, peer.port)
          : EINVAL;
      } catch (thrown) {
        err = thrown as Error; // bad arguments: a TypeError from the addon
      }
      if (err !== 0) {
        addon.close(handle);
        const cause =
          typeof err === 'number' ? errnoError(err, 'connect', peer.address, peer.port) : err;
        throw connectError(cause, peer.address, peer.port);
      }
    }
    const [address, port] = addon.address(handle);
    this.address = { address, port, family: options.family === 'udp6' ? 'IPv6' : 'IPv4' };
  }

  /** Test hook (fault injection): while blocked, every send would block (EAGAIN). */
  setBlocked(blocked: boolean): void {
    if (this.#closing === undefined) this.#addon.setBlocked(this.#handle, blocked);
  }

  /**
   * Test hook: the messages given to the kernel and the datagrams in them (GSO runs share one), and
   * the runs the kernel refused (sent again one reply per message).
   */
  sendCounts(): { messages: number; datagrams: number; refusedRuns: number } {
    const [messages, datagrams, refusedRuns] = this.#addon.sendCounts(this.#handle);
    return { messages, datagrams, refusedRuns };
  }

  answerSealed(path: SealedPath): Float64Array | undefined {
    const serve = this.#addon.sealedServe;
    if (serve === undefined || this.#peer !== undefined || this.#closing !== undefined) return;
    const counts = new Float64Array(SEALED_COUNTS.length);
    const { windowMs, capacity, notBeforeMs } = path;
    const on = withSecret(path.key, (secret) =>
      serve(this.#handle, secret, windowMs, capacity, notBeforeMs, counts.buffer),
    );
    return on ? counts : undefined;
  }

  sealedLoad(
    params: SealedLoadParams,
    onReplies: SealedLoadReplies,
  ): ((firstSeq: number, count: number) => void) | undefined {
    const { sealedLoad, sendSealed, LOAD_SEQ_AT, BATCH } = this.#addon;
    if (sealedLoad === undefined || sendSealed === undefined || LOAD_SEQ_AT === undefined) return;
    if (this.#peer === undefined || this.#closing !== undefined || this.#load !== undefined) return;
    const { baseHi, baseLo, size } = params;
    if (!withSecret(params.key, (secret) => sealedLoad(this.#handle, secret, baseHi, baseLo, size)))
      return;
    this.#load = { onReplies, kinds: new Int32Array(BATCH), seqs: new Float64Array(BATCH) };
    return (firstSeq, count) => {
      if (this.#closing !== undefined || count === 0) return;
      const failed = sendSealed(this.#handle, firstSeq, count);
      if (failed > 0) this.#options.onSendFailed(failed);
    };
  }

  send(datagrams: readonly Reply[]): void {
    if (this.#closing !== undefined || datagrams.length === 0) return;
    // No batch: a destination is never taken for a sender's (stale) receive slot.
    const failed = this.#sendAll(NO_BATCH, datagrams);
    if (failed > 0) this.#options.onSendFailed(failed);
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      const failed = this.#addon.close(this.#handle);
      if (failed > 0) this.#options.onSendFailed(failed);
      // As dgram's close: settle on a later turn, after the handle has really closed.
      setImmediate(resolve);
    });
    return this.#closing;
  }

  #onBatch(count: number): void {
    if (count < 0) {
      this.#options.onError(errnoError(count, 'recvmmsg', this.address.address, this.address.port));
      return;
    }
    const { SLOT, META, TEXT_AT } = this.#addon;
    const ints = this.#recvInts;
    const load = this.#load;
    if (load !== undefined) {
      // Opened and matched in C: each reply's kind and request number are in its metadata.
      const seqAt = (this.#addon.LOAD_SEQ_AT ?? 0) >> 3;
      const perMeta = META >> 3;
      for (let i = 0; i < count; i++) {
        load.kinds[i] = ints[((i * META) >> 2) + 5] ?? 0;
        load.seqs[i] = this.#recvDoubles[i * perMeta + seqAt] ?? 0;
      }
      load.onReplies(count, load.kinds, load.seqs);
      return;
    }
    const batch = this.#batch;
    batch.length = count;
    const peer = this.#peer;
    for (let i = 0; i < count; i++) {
      const at = (i * META) >> 2;
      const length = ints[at] ?? 0;
      if (peer !== undefined) {
        // Connected: the kernel delivers only the peer's datagrams.
        batch[i] = { data: Buffer.from(this.#recv, i * SLOT, length), from: peer };
        continue;
      }
      const family = ints[at + 1];
      const port = ints[at + 2] ?? 0;
      let address: string | undefined;
      if (family === 4) {
        const key = ints[at + 3] ?? 0;
        address = this.#v4.get(key);
        if (address === undefined) {
          if (this.#v4.size >= V4_CACHE_LIMIT) this.#v4.clear();
          const b = this.#recvMeta; // the raw address, in network byte order
          const o = i * META + 12;
          address = `${b[o] ?? 0}.${b[o + 1] ?? 0}.${b[o + 2] ?? 0}.${b[o + 3] ?? 0}`;
          this.#v4.set(key, address);
        }
      } else address = this.#text(i * META + TEXT_AT, ints[at + 4] ?? 0);
      batch[i] = { data: Buffer.from(this.#recv, i * SLOT, length), from: { address, port } };
    }
    const replies = this.#replies;
    this.#options.onBatch(batch, replies);
    if (this.#closing !== undefined) return; // the handler closed the server
    if (replies.length === 0) return;
    const failed = this.#sendAll(batch, replies);
    replies.length = 0;
    if (failed > 0) this.#options.onSendFailed(failed);
  }

  #text(start: number, length: number): string {
    return this.#recvMeta.toString('latin1', start, start + length);
  }

  /** Stages the replies and sends them, 64 at a time; returns how many could not be sent. */
  #sendAll(batch: readonly Datagram[], replies: readonly Reply[]): number {
    const { BATCH, META, TEXT_AT, TO_PEER } = this.#addon;
    const connected = this.#peer !== undefined;
    const ints = this.#sendInts;
    let failed = 0;
    let staged = 0;
    let offset = 0;
    let cursor = 0;
    for (let r = 0; r < replies.length; r++) {
      const reply = replies[r] as Reply;
      const length = reply.data.length;
      if (length > this.#send.length) {
        failed++; // larger than any UDP datagram: the kernel would refuse it too
        continue;
      }
      if (staged === BATCH || offset + length > this.#send.length) {
        failed += this.#addon.send(this.#handle, staged);
        staged = 0;
        offset = 0;
      }
      this.#send.set(reply.data, offset);
      // A reply to a sender of this batch reuses the sender's socket address, found by identity
      // (replies come in the order of the datagrams); any other destination goes as text.
      // A connected socket sends everything to its peer.
      let slot = connected ? TO_PEER : -1;
      for (let j = connected ? batch.length : cursor; j < batch.length; j++) {
        if (batch[j]?.from === reply.to) {
          slot = j;
          cursor = j + 1;
          break;
        }
      }
      const at = (staged * META) >> 2;
      ints[at] = offset;
      ints[at + 1] = length;
      ints[at + 2] = slot;
      if (slot === -1) {
        ints[at + 3] = reply.to.port;
        ints[at + 4] = this.#sendMeta.write(
          reply.to.address,
          staged * META + TEXT_AT,
          META - TEXT_AT - 1,
          'latin1',
        );
      }
      offset += length;
      staged++;
    }
    if (staged > 0) failed += this.#addon.send(this.#handle, staged);
    return failed;
  }
}

/**
 * Opens the native backend.
 * @throws UdplabError BIND, with the same messages as the dgram backend.
 */
export function openNativeBackend(
  addon: NativeAddon,
  options: BackendOptions,
): SocketBackend & {
  answerSealed(path: SealedPath): Float64Array | undefined;
  sealedLoad(
    params: SealedLoadParams,
    onReplies: SealedLoadReplies,
  ): ((firstSeq: number, count: number) => void) | undefined;
  setBlocked(blocked: boolean): void;
  sendCounts(): { messages: number; datagrams: number; refusedRuns: number };
} {
  return new NativeBackend(addon, options);
}
