/** Chooses and opens the backend of `udplab server`: `--backend dgram|native|auto`. */
import { ErrorCodes, UdplabError } from '../errors.js';
import { openDgramBackend } from './dgram.js';
import { loadNativeAddon, openNativeBackend } from './native.js';
import type { BackendChoice, BackendOptions, SocketBackend } from './types.js';

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
 * Opens a backend: `dgram`, `native`, or `auto` (native when its addon loads, dgram otherwise).
 * @throws UdplabError BACKEND when `native` is asked for and cannot load; BIND when binding fails.
 */
export async function openBackend(
  choice: BackendChoice,
  options: BackendOptions,
): Promise<SocketBackend> {
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
