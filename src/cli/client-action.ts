/**
 * What `udplab client` does once its arguments are parsed, and how its events read. Kept apart
 * from the commander definition (client.ts) and free of commander, so that the fast path of
 * main.ts can run a plain `udplab client HOST PORT` without loading the option parser.
 */
import { canonicalAddress, parsePort } from '../address.js';
import { nominalWaits } from '../backoff.js';
import type { ClientEvent, GaveUpEvent } from '../client.js';
import type { BaseEvent } from '../events.js';
import type { SealKey } from '../keys.js';
import { rngFor } from '../rng.js';
import { requestSeries, type SeriesSummaryEvent } from '../series.js';
import { ErrorCodes, UdplabError, UsageError } from '../errors.js';
import { isValidId } from '../wire/text.js';
import { openOutput, type CommandContext } from './context.js';
import { clip, ep, formatMs, plural, quote, type Colors } from './output.js';

/** Said also when the server answered with another request's ID: this one's reply may be lost. */
const LOST_CAUSE = 'the request or the reply was lost on the way';
const GIVE_UP_CAUSES = [
  'the server is not running (or crashed)',
  LOST_CAUSE,
  'wrong server address or port',
  'a firewall drops the datagrams',
  'the server is bound to another interface (e.g. 127.0.0.1 while you sent to an external address)',
];
/** Said to a plain client only: a sealed one is told about keys by keyCauses(). */
const SEALED_SERVER_CAUSE =
  'the server runs sealed (--key-file) and answers only datagrams sealed with its key';

/** Why the client got no reply, most likely first. */
function giveUpCauses(e: GaveUpEvent): string[] {
  // ICMP port unreachable: nothing listens there at all, so keys and losses are beside the point.
  if (e.reason === 'refused')
    return [
      '  - nothing listens at that address and port: the server is not running (or crashed), or the address or port is wrong',
      // Task 1's lesson: a server bound to 127.0.0.1 is not at the machine's external address.
      '  - the server is bound to another interface of that machine (e.g. 127.0.0.1 while you sent to its external address)',
    ];
  // A sealed client got plain-text answers: the server runs and is reachable, without a key.
  if (e.keyId !== undefined && (e.notSealed ?? 0) > 0)
    return [
      `  - the server answered in plain text (${String(e.notSealed)} ignored): it runs without --key-file; start it with --key-file and this key, or run the client without it`,
    ];
  // Replies came from the server itself, none with the request's ID: the server runs, is
  // reachable, and ignores IDs. Only then is dropping --id the advice: a datagram with another ID,
  // or from another address, says nothing about the server's echo (test/client-id.test.ts).
  const other = otherIdCause(e);
  if (noEcho(e))
    return [
      `  - the server answered without the request's ID (${String(e.noId)} ignored as wrong-id): it does not echo request IDs (the lab's Python server does not); run the client without --id, or use udplab server, which echoes them`,
      ...other,
    ];
  if (other.length > 0) return [...other, `  - ${LOST_CAUSE}`];
  const generic = e.keyId === undefined ? [...GIVE_UP_CAUSES, SEALED_SERVER_CAUSE] : GIVE_UP_CAUSES;
  const causes = [...keyCauses(e), ...generic.map((x) => `  - ${x}`)];
  const w = wildcardCause(e);
  if (w === undefined) return causes;
  // Sent to a loopback address other than the client's own: a wildcard server is the likeliest.
  return w.sure ? [w.text, ...causes] : [...causes, w.text];
}

/**
 * Task 1's lesson (README): a server bound to 0.0.0.0 answers from the source address of its route
 * back to the client, not always the address the client sent to, and the connected client drops
 * that reply in the kernel (it never sees it to count it). Sure of the addresses when the client
 * sent to a loopback address other than its own (127.0.0.2 from 127.0.0.1): a server on this
 * machine then answers from the client's own address. Not said to the promiscuous client (bound
 * to all addresses), which takes a reply from anyone.
 */
function wildcardCause(e: GaveUpEvent): { text: string; sure: boolean } | undefined {
  const local = canonicalAddress(e.local.address);
  const to = canonicalAddress(e.to.address);
  if (local === '0.0.0.0' || local === '::' || local === to) return undefined;
  const accepts = 'this client accepts a reply only from the address it sent to';
  if (to.startsWith('127.') && local.startsWith('127.')) {
    const from = ep({ address: local, port: e.to.port });
    return {
      sure: true,
      text: `  - the server is bound to 0.0.0.0, "" or :: (all interfaces), so its reply comes from ${from} (the source address of its route back to this client), not ${ep({ address: to, port: e.to.port })}, and ${accepts}: bind the server to ${to}, or send to ${local}`,
    };
  }
  return {
    sure: false,
    text: `  - the server is bound to 0.0.0.0, "" or :: (all interfaces) and answers from the source address of its route back, not always the one you sent to (e.g. 127.0.0.1 when you sent to 127.0.0.2), and ${accepts}: bind the server to the address you send to`,
  };
}

/** True when a plain client with `--id` got replies from the server's address, none with an ID. */
function noEcho(e: GaveUpEvent): boolean {
  return e.keyId === undefined && (e.noId ?? 0) > 0;
}

/** The cause a plain `--id` client lists when the server answered with another request's ID. */
function otherIdCause(e: GaveUpEvent): string[] {
  const n = e.keyId === undefined ? (e.otherId ?? 0) : 0;
  if (n === 0) return [];
  return [
    `  - the server answered with another request's ID (${String(n)} ignored as wrong-id): late replies to an earlier request, or a server that does not copy the ID back as it came`,
  ];
}

/** The note on wrong-ID datagrams from another address (`--promiscuous`): not the server's doing. */
function elsewhereNote(e: GaveUpEvent): string[] {
  const n = e.keyId === undefined ? (e.fromElsewhere ?? 0) : 0;
  if (n === 0) return [];
  return [
    `Also ignored: ${plural(n, 'datagram')} from an address or port other than the server’s, with a missing or wrong request ID — possibly spoofed; --id kept ${n === 1 ? 'it' : 'them'} out`,
  ];
}

/** The gave-up headline: with `--id`, what came back from the server instead of the reply. */
function giveUpHead(e: GaveUpEvent): string {
  const tries = `${plural(e.attempts, 'attempt')} over ${formatMs(e.elapsedMs)}`;
  const noId = e.keyId === undefined ? (e.noId ?? 0) : 0;
  const otherId = e.keyId === undefined ? (e.otherId ?? 0) : 0;
  if (e.reason === 'refused' || noId + otherId === 0)
    return `Cannot receive data from server: no reply after ${tries}${e.reason === 'refused' ? ' (port unreachable)' : ''}.`;
  const seen = [
    ...(noId > 0 ? [`${plural(noId, 'reply', 'replies')} came without it`] : []),
    ...(otherId > 0 ? [`${plural(otherId, 'reply', 'replies')} carried another request's ID`] : []),
  ];
  return `Cannot receive data from server: no reply with this request's ID after ${tries} (${seen.join(', ')}).`;
}

/**
 * The sealed causes a sealed client lists first when it gives up: a sealed server stays silent to
 * another key, and also, with the same key, to every new request while its replay cache is full
 * (fail closed: docs/sealed.md), e.g. after a `udplab bench` run, to a request its clock calls
 * stale, and to a replayed ID. From the client's side they all look alike, so all are named.
 */
function keyCauses(e: GaveUpEvent): string[] {
  if (e.keyId === undefined) return [];
  return [
    `  - a key mismatch, if the key ID on the server’s "Sealed:" line is not this client's (${e.keyId}): a sealed server with another key answers nothing` +
      ((e.forged ?? 0) > 0
        ? ` (${plural(e.forged ?? 0, 'reply', 'replies')} did not authenticate)`
        : ''),
    '  - with the same key: the server’s replay cache is full (e.g. after a udplab bench run; its summary counts cache-full): it refuses new requests until entries expire, within twice its --window (60 s by default); retry later, or start it with a larger --replay-cache or a shorter --window',
    '  - the clocks: the server takes a request only within its --window (±30 s by default) of its own clock, and none sealed before it started; if the two clocks differ by more, or the server started less than that difference ago, it refuses the request as stale (its log says which)',
    '  - if you chose the ID (--id N): the server refuses an ID it has answered within twice its --window as a replay (sealed IDs are numbers: --id 007 is 7); run without --id for a fresh random one',
  ];
}

/** Human lines for the client's events. */
export function renderClient(event: BaseEvent, c: Colors): string | undefined {
  const e = event as ClientEvent | SeriesSummaryEvent;
  switch (e.event) {
    case 'bound':
      return e.address === '0.0.0.0' || e.address === '::'
        ? `The OS assigned this client the address ${c.bold(ep(e))} (all addresses: the socket is not connected, anyone can send to it)`
        : `The OS assigned this client the address ${c.bold(ep(e))}`;
    case 'sent': {
      const what = e.sealed ? plural(e.bytes, 'sealed byte') : plural(e.bytes, 'byte');
      return e.attempt === 1
        ? `Sent ${what} to ${ep(e.to)}${e.id === undefined ? '' : ` with request ID ${e.id}`}`
        : c.yellow(`Retransmission: attempt ${e.attempt}, sent ${what} to ${ep(e.to)}`);
    }
    case 'timeout':
      return c.yellow(
        `No reply to attempt ${e.attempt} after ${formatMs(e.waitedMs)}; ` +
          (e.nextWaitMs !== null
            ? `retransmitting and waiting ${formatMs(e.nextWaitMs)}`
            : e.lastBecause === 'attempts'
              ? `that was the last of the attempts allowed (--attempts ${e.attempt}): giving up`
              : 'the next wait would pass the limit (--max-delay): giving up'),
      );
    case 'refused':
      return c.yellow(
        `Port unreachable (ICMP): nothing listens at ${ep(e.from)} — attempt ${e.attempt} failed, keeping to the schedule`,
      );
    case 'received': {
      const who = e.fromServer
        ? `The server ${ep(e.from)}`
        : c.red(`NOT the server: ${ep(e.from)}`);
      return `${who} replied ${quote(clip(e.text))} (rtt ${formatMs(e.rttMs)}, ${plural(e.attempt, 'attempt')}${e.sealed ? ', sealed and authenticated' : ''})`;
    }
    case 'ignored':
      return c.dim(
        `Ignored ${plural(e.bytes, 'byte')} from ${ep(e.from)} (${e.reason}): ${quote(clip(e.text))}`,
      );
    case 'gave-up': {
      const causes = giveUpCauses(e);
      return [
        c.red(giveUpHead(e)),
        ...elsewhereNote(e).map((x) => c.yellow(x)),
        causes.length === 1 ? 'Likely cause:' : 'Likely causes:',
        ...causes,
      ].join('\n');
    }
    case 'summary': {
      const f = (v: number | null): string => (v === null ? '-' : v.toFixed(3));
      return [
        `${plural(e.sent, 'request')} sent, ${e.answered} answered, ${e.failed} failed, ${e.lossPercent.toFixed(1)}% loss, ${plural(e.retransmissions, 'retransmission')}${e.duplicates ? `, ${plural(e.duplicates, 'late duplicate')}` : ''}`,
        `rtt min/avg/max/mdev = ${f(e.rttMinMs)}/${f(e.rttAvgMs)}/${f(e.rttMaxMs)}/${f(e.rttMdevMs)} ms, p50 ${f(e.rttP50Ms)} ms, p99 ${f(e.rttP99Ms)} ms`,
      ].join('\n');
    }
    default:
      return undefined;
  }
}

/** The options of `udplab client`, parsed (times in milliseconds). */
export interface ClientOpts {
  message?: string;
  timeout?: number;
  maxDelay?: number;
  attempts?: number;
  jitter?: number;
  seed?: number;
  id?: boolean | string;
  promiscuous?: boolean;
  count?: number;
  interval?: number;
  json?: boolean;
  keyFile?: string;
}

/**
 * Reads a `--key-file` (cli/keys.ts's loadKeyOption, imported lazily by the commander definition
 * in client.ts). Passed in rather than imported here: this file is bundled into bin.js for the
 * fast path, which takes no key file, and a lazy import from the bundle stays an unbundled module
 * with its own errors.js, whose UdplabError (KEY, exit 1) the bundle's report() would not
 * recognise (scripts/bundle-bin.mjs).
 */
export type KeyLoader = (ctx: CommandContext, path: string) => Promise<SealKey | undefined>;

/**
 * Runs `udplab client HOST PORT` with parsed options; sets `ctx.exitCode`.
 * @param loadKey - reads `opts.keyFile`; required when it is set.
 */
export async function runClient(
  host: string,
  portText: string,
  opts: ClientOpts,
  ctx: CommandContext,
  loadKey?: KeyLoader,
): Promise<void> {
  const port = parsePort(portText, false);
  if (typeof opts.id === 'string' && !isValidId(opts.id)) {
    throw new UsageError(`invalid request ID '${opts.id}': expected 1 to 20 decimal digits`);
  }
  const backoff = {
    ...(opts.timeout === undefined ? {} : { timeoutMs: opts.timeout }),
    ...(opts.maxDelay === undefined ? {} : { maxDelayMs: opts.maxDelay }),
    ...(opts.attempts === undefined ? {} : { attempts: opts.attempts }),
    ...(opts.jitter === undefined ? {} : { jitter: opts.jitter }),
  };
  nominalWaits(backoff); // validates before any socket opens
  if (opts.keyFile !== undefined && typeof opts.id === 'string') {
    if (BigInt(opts.id) >= 2n ** 64n)
      throw new UsageError(`invalid request ID '${opts.id}': sealed IDs are at most 2^64 − 1`);
    // A sealed server answers an ID once per window: every later request with it is a replay.
    if ((opts.count ?? 1) > 1)
      throw new UsageError('--id with --key-file names one request: drop --id or --count');
  }
  let key: SealKey | undefined;
  if (opts.keyFile !== undefined) {
    if (loadKey === undefined) throw new Error('runClient: a key file but no key loader');
    key = await loadKey(ctx, opts.keyFile);
  }
  const out = openOutput(ctx, opts.json ?? false, renderClient);
  const count = opts.count ?? 1;
  const summary = await requestSeries({
    host,
    port,
    ...backoff,
    rng: rngFor(opts.seed),
    ...(opts.message === undefined ? {} : { message: opts.message }),
    ...(opts.id === undefined ? {} : { id: opts.id }),
    promiscuous: opts.promiscuous ?? false,
    ...(key === undefined ? {} : { key }),
    count,
    ...(opts.interval === undefined ? {} : { intervalMs: opts.interval }),
    onEvent: count > 1 ? out.emit : (e) => e.event !== 'summary' && out.emit(e),
    ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
  });
  out.flush();
  // Ctrl-C before the one reply: a failed job, reported as every CLI error is (stderr, and an
  // `error` event with --json; exit 1).
  if (count === 1 && summary.answered === 0 && ctx.io.signal?.aborted)
    throw new UdplabError(ErrorCodes.ABORTED, 'interrupted before a reply came');
  ctx.exitCode = summary.answered > 0 ? 0 : 1;
}
