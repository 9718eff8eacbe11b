/**
 * The lab's plain text protocol (docs/wire-format.md):
 *
 * - request: any bytes; the lab's client sends ASCII such as `Current time is …`;
 * - reply: the ASCII text `I received from you a message of N bytes`, N = the request's length;
 * - request ID form: a request that begins with 1–20 ASCII decimal digits followed by `; `
 *   (semicolon, space) carries that ID, and the reply begins with the same `<ID>; `.
 *   N still counts the whole request, token included.
 */

/** The most digits an ID may have: 2^64 − 1 has 20. */
export const MAX_ID_DIGITS = 20;

const SEMICOLON = 0x3b;
const SPACE = 0x20;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** The lab's reply text for a request of `bytes` bytes. */
export function replyText(bytes: number): string {
  return `I received from you a message of ${bytes} bytes`;
}

/**
 * How many digits the request ID at the start of `data` has (1–20), or 0 when it has none: the
 * token is those digits and `; `. No string is made (a busy server answers IDs by copying bytes).
 */
export function idLength(data: Uint8Array): number {
  const limit = Math.min(data.length, MAX_ID_DIGITS + 2);
  let i = 0;
  while (i < limit) {
    const c = data[i];
    if (c === undefined || c < DIGIT_0 || c > DIGIT_9) break;
    i++;
  }
  if (i === 0 || i > MAX_ID_DIGITS) return 0;
  return data[i] === SEMICOLON && data[i + 1] === SPACE ? i : 0;
}

/**
 * The request ID at the start of `data`, or undefined when it has none.
 * `12345; hello` → `'12345'`; `12345;hello`, `; x`, 21 digits → undefined.
 */
export function parseId(data: Uint8Array): string | undefined {
  const n = idLength(data);
  return n === 0 ? undefined : String.fromCharCode(...data.subarray(0, n));
}

/** `data` without its leading `<ID>; ` token (the same bytes when it has none). */
export function stripId(data: Uint8Array, id: string | undefined): Uint8Array {
  return id === undefined ? data : data.subarray(id.length + 2);
}

/** Prefixes `text` with the ID token: `withId('42', 'hi')` → `'42; hi'`. */
export function withId(id: string, text: string): string {
  return `${id}; ${text}`;
}

/** A new random request ID: a uniformly random 64-bit unsigned integer in decimal (1–20 digits). */
export function randomId(randomBytes: (n: number) => Uint8Array): string {
  const b = randomBytes(8);
  let v = 0n;
  for (const byte of b) v = (v << 8n) | BigInt(byte);
  return v.toString(10);
}

/** True when `id` is a valid ID token: 1–20 decimal digits. */
export function isValidId(id: string): boolean {
  return /^[0-9]{1,20}$/.test(id);
}
