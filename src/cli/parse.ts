/**
 * Option value parsers for commander. Each throws InvalidArgumentError, which the CLI turns
 * into a one-line usage error and exit code 2.
 */
import { InvalidArgumentError } from 'commander';
import { BACKEND_CHOICES, type BackendChoice } from '../backend/types.js';
import { MAX_TIMER_MS } from '../rng.js';

const MAX_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** A decimal number as people type it (`0.5`, `.5`, `10`, `1e3`): no hex, no `Infinity`. */
const DECIMAL = /^\s*(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*$/;

/** The value of a decimal number, or NaN for anything else (so every range check fails). */
export function decimal(text: string): number {
  return DECIMAL.test(text) ? Number(text) : Number.NaN;
}

/** Seconds as the lab speaks them (`0.1`), returned in milliseconds. Must be > 0. */
export function secondsToMs(text: string): number {
  const v = decimal(text);
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0 || v > MAX_SECONDS) {
    throw new InvalidArgumentError(
      `expected a number of seconds greater than 0 and at most ${MAX_SECONDS} (e.g. 0.1)`,
    );
  }
  return v * 1000;
}

/** A parser of seconds in [min, max] (min > 0), in milliseconds, for a library with a floor. */
export function secondsFromTo(min: number, max: number): (text: string) => number {
  return (text) => {
    const v = decimal(text);
    if (!(v >= min && v <= max)) {
      throw new InvalidArgumentError(
        `expected a number of seconds from ${String(min)} to ${String(max)} (e.g. 0.5)`,
      );
    }
    return v * 1000;
  };
}

/** A parser of seconds in [0, max], in milliseconds. */
export function secondsOrZeroUpTo(max: number): (text: string) => number {
  return (text) => {
    const v = decimal(text);
    if (!(v >= 0 && v <= max)) {
      throw new InvalidArgumentError(
        `expected a number of seconds from 0 to ${String(max)} (e.g. 0.5)`,
      );
    }
    return v * 1000;
  };
}

/** A parser of whole numbers in [1, max]. */
export function intUpTo(max: number): (text: string) => number {
  return (text) => {
    const v = Number(text);
    if (!/^\s*[0-9]+\s*$/.test(text) || !(v >= 1 && v <= max)) {
      throw new InvalidArgumentError(
        `expected a whole number from 1 to ${max.toLocaleString('en-US')}`,
      );
    }
    return v;
  };
}

/** Seconds ≥ 0 (up to Node's timer limit), in milliseconds. */
export const secondsOrZeroToMs = secondsOrZeroUpTo(MAX_SECONDS);

/** A probability in [0, 1]. */
export function probability(text: string): number {
  const v = decimal(text);
  if (text.trim() === '' || !(v >= 0 && v <= 1)) {
    throw new InvalidArgumentError('expected a probability from 0 to 1 (e.g. 0.5)');
  }
  return v;
}

/** A fraction in [0, 1) (jitter). */
export function fraction(text: string): number {
  const v = decimal(text);
  if (text.trim() === '' || !(v >= 0 && v < 1)) {
    throw new InvalidArgumentError('expected a number ≥ 0 and < 1 (e.g. 0.25)');
  }
  return v;
}

/** A whole number ≥ 1. */
export function positiveInt(text: string): number {
  const v = decimal(text);
  const whole = /^\s*[0-9]+\s*$/.test(text);
  if (!whole || !Number.isSafeInteger(v) || v < 1) {
    throw new InvalidArgumentError(
      whole && v > 1
        ? `expected a whole number from 1 to ${Number.MAX_SAFE_INTEGER.toLocaleString('en-US')}`
        : 'expected a whole number ≥ 1',
    );
  }
  return v;
}

/** A whole number ≥ 0 (seeds). */
export function nonNegativeInt(text: string): number {
  const v = decimal(text);
  if (!/^\s*[0-9]+\s*$/.test(text) || !Number.isSafeInteger(v)) {
    throw new InvalidArgumentError('expected a whole number ≥ 0');
  }
  return v;
}

/** A number > 0 (rates such as replies per second). */
export function positiveNumber(text: string): number {
  const v = decimal(text);
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0) {
    throw new InvalidArgumentError('expected a number greater than 0');
  }
  return v;
}

/** `--backend` (udplab server, udplab bench): one of auto, native, dgram. */
export function backendChoice(text: string): BackendChoice {
  const choice = BACKEND_CHOICES.find((c) => c === text.trim());
  if (choice === undefined) {
    throw new InvalidArgumentError(`expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  return choice;
}
