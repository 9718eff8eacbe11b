/** Numbers for people, shared by the library's messages and the CLI's lines. */

/** A count with thousands separators: `5,122,830`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
