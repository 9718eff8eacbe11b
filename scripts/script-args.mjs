// script-args.mjs - argument checks shared by the benchmark scripts (bench.mjs, cold-start.mjs).
// A bad argument ends the script at once, before it looks for tools or starts anything, with one
// line on stderr (`bench: --rounds must be an integer from 1 to 100 (got "abc")`) and exit code 2:
// never a stack trace, never a run on NaN (test/bench-scripts.test.ts).
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** Prints `name: message` on stderr and exits with 2 (a usage error). */
export function usageError(name, message) {
  console.error(`${name}: ${message}`);
  process.exit(2);
}

/**
 * parseArgs in strict mode; its error becomes one line (node's "ambiguous" message spans three
 * lines, and its advice on arguments starting with a dash is dropped: these scripts take no
 * positionals, and no option takes a negative value).
 */
export function parseOptions(name, options) {
  try {
    return parseArgs({ options }).values;
  } catch (err) {
    const text = String(err.message)
      .split('\n')
      .filter((line) => !line.startsWith('To specify'))
      .join(' ')
      .split('. To specify')[0];
    return usageError(name, `${text} (--help lists the options)`);
  }
}

// Plain decimal digits only: Number() would also take '', ' 3', '0x10', '1e3' and 'Infinity'.
const INTEGER = /^\d+$/;
const DECIMAL = /^(\d+\.?\d*|\.\d+)$/;

/** The value of `--option` as an integer in [min, max], or a usage error. */
export function integerOption(name, option, text, min, max) {
  const n = Number(text);
  if (!INTEGER.test(text) || n < min || n > max) {
    usageError(name, `--${option} must be an integer from ${min} to ${max} (got "${text}")`);
  }
  return n;
}

/**
 * The value of `--option` as a number of seconds in [min, max] (with `above: true`, min itself
 * is refused), or a usage error.
 */
export function secondsOption(name, option, text, min, max, { above = false } = {}) {
  const n = Number(text);
  if (!DECIMAL.test(text) || (above ? n <= min : n < min) || n > max) {
    const range = above ? `more than ${min} and at most ${max}` : `from ${min} to ${max}`;
    usageError(name, `--${option} must be a number of seconds ${range} (got "${text}")`);
  }
  return n;
}

/** `--option FILE` must name an existing file (not a folder), or a usage error. */
export function existingFile(name, option, file) {
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    usageError(name, `--${option}: no such file: ${file}`);
  }
  if (!isFile) usageError(name, `--${option}: not a file: ${file}`);
  return file;
}
