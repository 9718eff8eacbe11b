/**
 * What a demo part gets: a way to narrate (`step`, `say`), event sinks for the programs it
 * runs (tagged with their role), and the signal. Parts use the public API only.
 */
import type { BaseEvent, EventSink } from '../events.js';
import { isoNow } from '../events.js';
import type { SealKey } from '../keys.js';

/** `step`: a demo part begins a step, with its explanation. */
export interface StepEvent extends BaseEvent {
  event: 'step';
  part: string;
  title: string;
  text: string[];
}

/** `note`: one more sentence of explanation. */
export interface NoteEvent extends BaseEvent {
  event: 'note';
  text: string;
}

/** `check`: an outcome the demo verified (`ok` false fails the demo, exit 1). */
export interface CheckEvent extends BaseEvent {
  event: 'check';
  ok: boolean;
  text: string;
}

/** An event of a program the demo runs, with who ran it. */
export type RoleEvent = BaseEvent & { role: string };

/** Every event of the demo. */
export type DemoEvent = StepEvent | NoteEvent | CheckEvent | RoleEvent;

/** The demo's tools, handed to each part. */
export class DemoContext {
  readonly signal: AbortSignal | undefined;
  /** The key for the sealed part (`udplab demo --key-file`); a random one when absent. */
  readonly key: SealKey | undefined;
  readonly #emit: EventSink;
  #part = '';
  failures = 0;

  constructor(emit: EventSink, signal?: AbortSignal, key?: SealKey) {
    this.#emit = emit;
    this.signal = signal;
    this.key = key;
  }

  /** Starts a part (a lab task). */
  part(name: string): void {
    this.#part = name;
  }

  /** Starts a step with a title and explanation lines. */
  step(title: string, ...text: string[]): void {
    const e: StepEvent = { event: 'step', time: isoNow(), part: this.#part, title, text };
    this.#emit(e);
  }

  /** One more sentence. */
  say(text: string): void {
    const e: NoteEvent = { event: 'note', time: isoNow(), text };
    this.#emit(e);
  }

  /** Records an outcome; a false one makes the demo exit 1. */
  check(ok: boolean, text: string): void {
    if (!ok) this.failures++;
    const e: CheckEvent = { event: 'check', time: isoNow(), ok, text };
    this.#emit(e);
  }

  /** A sink for the events of a program playing `role` (server, client, spoofer…). */
  as(role: string): EventSink {
    return (e) => {
      this.#emit({ ...e, role } as RoleEvent);
    };
  }
}

/** A demo part: one lab task, narrated. */
export interface DemoPart {
  name: string;
  title: string;
  run(ctx: DemoContext): Promise<void>;
}
