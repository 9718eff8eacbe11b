/** Chooses and opens the backend of `udplab server`: `--backend dgram|native|auto`. */
import { ErrorCodes, UdplabError } from '../errors.js';
import { openDgramBackend } from './dgram.js';
import { loadNativeAddon, openNativeBackend } from './native.js';
import {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendOptions,
  type SocketBackend,
} from './types.js';

/**
 * Why the native backend cannot run here, or undefined when it can.
 * @example
 * nativeUnavailableReason() // undefined on Linux with the addon built
 */
export function nativeUnavailableReason(): string | undefined {
  const load = loadNativeAddon();
  return 'reason' in load ? load.reason : undefined;
}

/**
 * Checks the `backend` option of a library call (createServer, bench) at once, before any socket
 * is opened: TypeScript's type does not reach JavaScript callers or values built at run time.
 * @param backend - undefined (the default, `auto`) or one of `BACKEND_CHOICES`.
 * @throws RangeError naming the option and the values it takes.
 * @example
 * checkBackendChoice('dgram'); // fine
 * checkBackendChoice('fast'); // RangeError: backend must be one of auto, native, dgram (got 'fast')
 */
export function checkBackendChoice(backend: unknown): void {
  if (backend === undefined || BACKEND_CHOICES.some((c) => c === backend)) return;
  const got = typeof backend === 'string' ? `'${backend}'` : typeof backend;
  throw new RangeError(`backend must be one of ${BACKEND_CHOICES.join(', ')} (got ${got})`);
}

/**
 * Opens a backend: `dgram`, `native`, or `auto` (native when its addon loads, dgram otherwise).
 * @throws RangeError for a `choice` that is none of them; UdplabError BACKEND when `native` is
 * asked for and cannot load; BIND when binding fails.
 */
export async function openBackend(
  choice: BackendChoice,
  options: BackendOptions,
): Promise<SocketBackend> {
  checkBackendChoice(choice);
  if (choice === 'dgram') return openDgramBackend(options);
  const load = loadNativeAddon();
  if ('addon' in load) return openNativeBackend(load.addon, options);
  if (choice === 'native') {
    throw new UdplabError(
      ErrorCodes.BACKEND,
      `the native backend is not available: ${load.reason}; use --backend dgram or auto`,
    );
  }
  return openDgramBackend(options);
}
