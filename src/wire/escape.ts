/**
 * How payloads are shown to people and in JSON `text` fields: printable text as it is,
 * everything else escaped so that any datagram (binary, invalid UTF-8, control characters,
 * zero bytes) prints on one line and cannot move the terminal's cursor.
 *
 * Rules: printable ASCII and printable non-ASCII UTF-8 characters are kept; `\` becomes `\\`;
 * `\n`, `\r`, `\t` stay as those escapes; any other control character, and every byte that is not
 * part of valid UTF-8, becomes `\xNN`.
 */

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isPlainAscii(data: Uint8Array): boolean {
  // An indexed loop: for-of over a Uint8Array was 13 % of a printing server's JS profile.
  for (let i = 0; i < data.length; i++) {
    const c = data[i] as number;
    if (c < 0x20 || c > 0x7e || c === 0x5c) return false;
  }
  return true;
}

function hex(byte: number): string {
  return `\\x${byte.toString(16).padStart(2, '0')}`;
}

function escapeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (ch === '\\') return '\\\\';
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  // C0, DEL, C1 controls, and the bidi/line separators that could rearrange a terminal line.
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp === 0x2028 || cp === 0x2029) {
    return cp <= 0xff ? hex(cp) : `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
    return `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  return ch;
}

/** The payload as one safe line of text (see the module comment for the rules). */
export function escapePayload(data: Uint8Array): string {
  if (isPlainAscii(data)) {
    const buf = Buffer.isBuffer(data)
      ? data
      : Buffer.from(data.buffer, data.byteOffset, data.length);
    return buf.toString('latin1');
  }
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    // Not valid UTF-8: keep printable ASCII, escape every other byte.
    let out = '';
    for (const c of data)
      out += c >= 0x20 && c <= 0x7e ? escapeChar(String.fromCharCode(c)) : hex(c);
    return out;
  }
  let out = '';
  for (const ch of text) out += escapeChar(ch);
  return out;
}
