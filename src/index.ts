/** udplab's public API. Every CLI command is a thin layer over these functions. */
export { ErrorCodes, UdplabError, UsageError, type ErrorCode } from './errors.js';
export {
  formatEndpoint,
  type BaseEvent,
  type Endpoint,
  type ErrorEvent,
  type EventSink,
} from './events.js';
export {
  maxPayload,
  parseHostPort,
  parsePort,
  resolveHost,
  type Family,
  type ResolvedHost,
} from './address.js';
export { seededRng, type Rng } from './rng.js';
export { BACKOFF_DEFAULTS, nominalWaits, schedule, type BackoffOptions } from './backoff.js';
export { ServerCore, type HardeningOptions, type HardeningInfo } from './server-core.js';
export {
  REJECT_REASONS,
  type Datagram,
  type Reply,
  type ServerCounters,
  type CoreEvent,
  type RejectReason,
  type RejectedEvent,
  type RetransmissionEvent,
  type RateLimitedEvent,
} from './server-events.js';
export {
  KEY_BYTES,
  MAX_KEY_FILE_BYTES,
  SealKey,
  parseKey,
  readKeyFile,
  writeKeyFile,
  type KeyFileInfo,
  type WriteKeyOptions,
} from './keys.js';
export {
  SEALED_MAGIC,
  SEALED_OVERHEAD,
  SEALED_VERSION,
  SealedType,
  looksSealed,
  openDatagram,
  sealDatagram,
  type OpenFailure,
  type OpenResult,
  type SealedMessage,
} from './wire/sealed.js';
export {
  DEFAULT_REPLAY_CAPACITY,
  MAX_REPLAY_CAPACITY,
  DEFAULT_WINDOW_MS,
  ReplayCache,
  type ReplayCacheOptions,
  type ReplayVerdict,
} from './replay.js';
export { DEFAULT_MAX_SOURCES, RateLimiter, type RateLimitOptions } from './rate-limit.js';
export { createServer, type ServerEvent, type ServerOptions, type UdpServer } from './server.js';
export { nativeUnavailableReason } from './backend/select.js';
export { BACKEND_CHOICES, type BackendChoice, type BackendName } from './backend/types.js';
export {
  request,
  type ClientEvent,
  type IgnoreReason,
  type RequestOptions,
  type RequestResult,
} from './client.js';
export { GaveUpError } from './client-match.js';
export { currentTimeMessage } from './client-prepare.js';
export { requestSeries, type SeriesOptions, type SeriesSummaryEvent } from './series.js';
export { RttStats, quantile, type RttSummary } from './stats.js';
export {
  bench,
  type BenchCounts,
  type BenchEvent,
  type BenchOptions,
  type BenchProgressEvent,
  type BenchStartedEvent,
  type BenchSummaryEvent,
  type LatencySummary,
} from './bench.js';
export { idCodec, plainCodec, type BenchCodec, type ReplyMatch } from './bench-codec.js';
export { spoof, type SpoofOptions, type SpoofSentEvent } from './spoof.js';
export {
  EchoMatcher,
  MAX_BIG_BYTES,
  MAX_CHUNKS,
  familyOfAddress,
  fragmentDataBytes,
  ipFragments,
  makePayload,
  splitPayload,
  splitSizes,
  type EchoMatch,
  type PayloadFill,
} from './chunks.js';
export { parseRouteGet, pathMtu, type MtuSource, type MtuSystem, type PathMtu } from './mtu.js';
export {
  BIGSEND_DEFAULTS,
  bigsend,
  checkSplit,
  type BigsendEvent,
  type BigsendOptions,
  type BigsendResult,
} from './bigsend.js';
export {
  echoClient,
  type EchoClientEvent,
  type EchoClientOptions,
  type EchoClientResult,
} from './echo-client.js';
export {
  largestPassing,
  probe,
  probePayload,
  type ProbeEvent,
  type ProbeOptions,
  type ProbeResult,
} from './probe.js';
export {
  IMPAIRMENT_DEFAULTS,
  Impairment,
  checkImpairments,
  flipBit,
  mergeImpairments,
  type Blackout,
  type CopyPlan,
  type Decision,
  type ImpairmentSpec,
  type JitterDistribution,
  type LossReason,
} from './impair.js';
export {
  GilbertElliott,
  stationaryLoss,
  type GilbertElliottParams,
} from './impair/gilbert-elliott.js';
export { TokenBucket } from './impair/token-bucket.js';
export {
  Link,
  type Delivery,
  type LinkCounters,
  type LinkEvent,
  type LinkOptions,
} from './impair/link.js';
export { PROFILES, type Profile } from './impair/profiles.js';
export { describeImpairments } from './impair/describe.js';
export {
  parseBlackout,
  parseBytes,
  parseLossBurst,
  parseMs,
  parseProbability,
  parseRate,
} from './impair/units.js';
export { PROXY_DEFAULTS, createProxy, type ProxyOptions, type UdpProxy } from './proxy.js';
export type * from './proxy-events.js';
export { escapePayload } from './wire/escape.js';
export { parseId, randomId, replyText, withId, isValidId } from './wire/text.js';
export { runDemo, demoParts, type DemoOptions } from './demo/index.js';
export { main } from './cli/main.js';
