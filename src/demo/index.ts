/** `udplab demo`: the whole lab on loopback, narrated. Each lab task is one part. */
import type { EventSink } from '../events.js';
import { DemoContext, type DemoPart } from './context.js';
import type { SealKey } from '../keys.js';
import { sealed } from './sealed.js';
import { task1 } from './task1.js';
import { proxy } from './proxy.js';
import { task2 } from './task2.js';
import { task3 } from './task3.js';
import { unsafe } from './unsafe.js';

/** The demo's parts, in the lab's order. */
export const demoParts: readonly DemoPart[] = [task1, unsafe, task2, proxy, task3, sealed];

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Receives every event (steps, notes, checks, and the programs' events tagged with `role`). */
  onEvent?: EventSink;
  signal?: AbortSignal;
  /** Run only these parts (by name). Default all. */
  only?: readonly string[];
  /** The key of the sealed part. Default: a new random key. */
  key?: SealKey;
}

/**
 * Runs the demo. Resolves with the number of failed checks (0 = everything behaved as the lab says).
 */
export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const ctx = new DemoContext(options.onEvent ?? (() => undefined), options.signal, options.key);
  for (const part of demoParts) {
    if (options.only && !options.only.includes(part.name)) continue;
    if (options.signal?.aborted) break;
    ctx.part(part.name);
    await part.run(ctx);
  }
  return ctx.failures;
}

export { DemoContext, type DemoPart } from './context.js';
