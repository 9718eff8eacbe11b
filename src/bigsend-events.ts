/**
 * The events of the lab's Task 3 server (bigsend.ts; docs/events.md, "udplab bigsend"). Types
 * only: nothing here is loaded at run time.
 */
import type { BaseEvent, Endpoint, ErrorEvent } from './events.js';
import type { PathMtu } from './mtu.js';

/** `listening`: bound, waiting for the echo client's hello. */
export interface BigsendListeningEvent extends BaseEvent {
  event: 'listening';
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}
/** `hello`: the first datagram arrived; its sender is the echo client from now on. */
export interface HelloEvent extends BaseEvent {
  event: 'hello';
  from: Endpoint;
  bytes: number;
}
/** `too-big`: the kernel refused the whole payload as one datagram (the lab's "packet too big"). */
export interface TooBigEvent extends BaseEvent {
  event: 'too-big';
  bytes: number;
  /** The UDP payload limit of the family: 65,507 (IPv4) or 65,527 (IPv6). */
  limit: number;
  /** The errno, `EMSGSIZE`. */
  code: string;
  /** The IP version whose limit applies (the client's). */
  family: 'IPv4' | 'IPv6';
}
/** `sent-whole`: the whole payload went out as one datagram (it was within the limit). */
export interface SentWholeEvent extends BaseEvent {
  event: 'sent-whole';
  bytes: number;
}
/** `chunk-sent`: piece `index` (0-based) of `chunks` went out. */
export interface ChunkSentEvent extends BaseEvent {
  event: 'chunk-sent';
  index: number;
  bytes: number;
  chunks: number;
}
/** `chunk-echoed`: piece `index` came back byte for byte. */
export interface ChunkEchoedEvent extends BaseEvent {
  event: 'chunk-echoed';
  index: number;
  bytes: number;
}
/** `whole-echoed`: the whole datagram (when it could be sent) came back byte for byte. */
export interface WholeEchoedEvent extends BaseEvent {
  event: 'whole-echoed';
  bytes: number;
}
/** Why a datagram was not counted as an echo. */
export type EchoIgnoreReason = 'stranger' | 'duplicate' | 'unexpected';
/** `ignored`: a datagram that is not a verified echo (from someone else, a repeat, or not a copy). */
export interface EchoIgnoredEvent extends BaseEvent {
  event: 'ignored';
  from: Endpoint;
  bytes: number;
  reason: EchoIgnoreReason;
}
/** `summary`: the totals; `missing` lists the 0-based indices of the pieces that did not come back. */
export interface BigsendSummaryEvent extends BaseEvent {
  event: 'summary';
  chunks: number;
  echoed: number;
  /** Bytes of the pieces that came back verified. */
  bytes: number;
  /** Bytes sent in pieces (= size). */
  totalBytes: number;
  missing: number[];
  ignored: number;
  wholeSent: boolean;
  wholeEchoed: boolean;
}
/** `path-mtu`: why the pieces pass — the limit, the path's MTU and the fragments a piece becomes. */
export interface PathMtuEvent extends BaseEvent {
  event: 'path-mtu';
  to: Endpoint;
  family: 'IPv4' | 'IPv6';
  /** UDP payload limit of one datagram. */
  limit: number;
  /** The whole payload tried as one datagram. */
  size: number;
  /** Whether the kernel accepted it as one datagram (false: `too-big` came before). */
  wholeSent: boolean;
  /** The largest piece. */
  pieceBytes: number;
  /** Interface the route uses; null when the system does not tell. */
  interface: string | null;
  /** The path MTU packets to the client are cut to; null when the system does not tell. */
  mtu: number | null;
  /**
   * Where `mtu` came from: `learned` (path MTU discovery, cached by the kernel), `route` (an
   * `mtu` attribute of the route) or `interface` (the interface's own MTU); null when unknown.
   */
  source: PathMtu['source'] | null;
  /** The interface's own MTU (/sys/class/net/IF/mtu); null when unknown. */
  interfaceMtu: number | null;
  /** Seconds until a `learned` path MTU expires; null otherwise. */
  expiresSec: number | null;
  /** IP packets the largest piece becomes on that MTU (1 = not fragmented); null when unknown. */
  fragments: number | null;
  /** Data bytes per fragment on that MTU; null when unknown. */
  fragmentBytes: number | null;
}
/** Every event of `bigsend`. */
export type BigsendEvent =
  | BigsendListeningEvent
  | HelloEvent
  | TooBigEvent
  | SentWholeEvent
  | ChunkSentEvent
  | ChunkEchoedEvent
  | WholeEchoedEvent
  | EchoIgnoredEvent
  | BigsendSummaryEvent
  | PathMtuEvent
  | ErrorEvent;
