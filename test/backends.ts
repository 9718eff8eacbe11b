/**
 * The server backends the tests run against: dgram always, native where its addon loads.
 * With UDPLAB_REQUIRE_NATIVE=1 on Linux (set by .ci/run) the native backend is always in the
 * list, so that an addon that failed to build FAILS the native tests (UDPLAB_ERR_BACKEND with
 * the reason) instead of skipping them.
 */
import { nativeUnavailableReason } from '../src/backend/select.js';
import assert from 'node:assert/strict';
import type { BackendName, BackendOptions } from '../src/backend/types.js';

/** Why native tests do not run here, or undefined when they do. */
export const nativeSkipReason: string | undefined = (() => {
  const reason = nativeUnavailableReason();
  if (reason === undefined) return undefined;
  if (process.env.UDPLAB_REQUIRE_NATIVE === '1' && process.platform === 'linux') return undefined;
  return `native backend not available: ${reason}`;
})();

/** The backends to run the server tests against. */
export function serverBackends(): BackendName[] {
  if (nativeSkipReason !== undefined) {
    console.log(`# skipping native-backend tests: ${nativeSkipReason}`);
    return ['dgram'];
  }
  return ['dgram', 'native'];
}

/** Options of a client socket (wildcard, port 0) that connects to `connect`, for connect tests. */
export const connectOptions = (
  family: BackendOptions['family'],
  connect: BackendOptions['connect'],
): BackendOptions => ({
  family,
  address: family === 'udp6' ? '::' : '0.0.0.0',
  port: 0,
  connect,
  sendQueueLimit: 1,
  onBatch: () => undefined,
  onSendFailed: () => undefined,
  onError: (err) => assert.fail(err),
});
