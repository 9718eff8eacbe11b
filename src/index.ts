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
export {
  ServerCore,
  type Datagram,
  type Reply,
  type ServerCounters,
  type CoreEvent,
} from './server-core.js';
export { createServer, type ServerEvent, type ServerOptions, type UdpServer } from './server.js';
export {
  GaveUpError,
  currentTimeMessage,
  request,
  type ClientEvent,
  type RequestOptions,
  type RequestResult,
} from './client.js';
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
export { escapePayload } from './wire/escape.js';
export { parseId, randomId, replyText, withId, isValidId } from './wire/text.js';
export { runDemo, demoParts, type DemoOptions } from './demo/index.js';
export { main } from './cli/main.js';
