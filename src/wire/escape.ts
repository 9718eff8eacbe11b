/**
 * How payloads are shown to people and in JSON `text` fields: printable text as it is,
 * everything else escaped so that any datagram (binary, invalid UTF-8, control characters,
 * zero bytes) prints on one line and cannot move the terminal's cursor.
 *
 * Rules: printable ASCII and printable non-ASCII UTF-8 characters are kept; `\` becomes `\\`;
 * `\n`, `\r`, `\t` stay as those escapes; any other control character (C0, DEL, and C1 by its code
 * point, so U+0085 and a lone byte 0x85 both show as `\x85`), and every byte that is not part of
 * valid UTF-8, becomes `\xNN`; U+2028, U+2029 and every invisible character (Unicode's format
 * characters, category Cf: the bidi controls, zero-width characters, U+FEFF, tag characters…; and
 * its default-ignorable code points: variation selectors, Hangul fillers…) become `\uNNNN`
 * (`\u{NNNNN}` above U+FFFF). docs/events.md lists the same rules for users.
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

/**
 * Every character that is not shown as it is: `\`, C0 controls, DEL, C1 controls, the line and
 * paragraph separators U+2028/U+2029, and the characters that show as nothing: Unicode's format
 * characters (general category Cf) and its default-ignorable code points. The invisible ones
 * reorder a line (bidi controls), join or split what is shown (U+200B–U+200D, U+2060, U+034F),
 * change a glyph (variation selectors), look like a space (U+3164) or hide text (tag characters
 * U+E0000–U+E007F), so `I'm fake` and `I'm\u200bfake` must not print alike.
 */
const SPECIAL =
  '[\\x00-\\x1f\\x5c\\x7f-\\x9f\\u2028\\u2029\\p{Cf}\\p{Default_Ignorable_Code_Point}]';
const HAS_SPECIAL = new RegExp(SPECIAL, 'u');
const EVERY_SPECIAL = new RegExp(SPECIAL, 'gu');

/** The escape of one {@link SPECIAL} character. */
function escapeSpecial(ch: string): string {
  if (ch === '\\') return '\\\\';
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return hex(cp); // C1 by its code point: \x85
  return cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\u{${cp.toString(16)}}`;
}

/**
 * The length of the well-formed UTF-8 sequence at `data[i]` (1–4), or 0 when none starts there
 * (the Unicode standard's table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
 */
function sequenceAt(data: Uint8Array, i: number): number {
  const b = data[i] ?? 0;
  if (b < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const c = data[i + k];
    return c !== undefined && c >= lo && c <= hi;
  };
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    const lo = b === 0xe0 ? 0xa0 : 0x80;
    const hi = b === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const lo = b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

function escapeText(text: string): string {
  // One scan of the text: most non-ASCII payloads (words in any script) have nothing to escape.
  return HAS_SPECIAL.test(text) ? text.replace(EVERY_SPECIAL, escapeSpecial) : text;
}

/** The payload as one safe line of text (see the module comment for the rules). */
export function escapePayload(data: Uint8Array): string {
  if (isPlainAscii(data)) {
    const buf = Buffer.isBuffer(data)
      ? data
      : Buffer.from(data.buffer, data.byteOffset, data.length);
    return buf.toString('latin1');
  }
  try {
    return escapeText(decoder.decode(data));
  } catch {
    // Not valid UTF-8 as a whole: the well-formed runs are shown as text, by the same rules,
    // and each byte that starts no well-formed sequence becomes \xNN.
    let out = '';
    let run = 0; // where the current well-formed run began
    let i = 0;
    while (i < data.length) {
      const n = sequenceAt(data, i);
      if (n > 0) {
        i += n;
        continue;
      }
      if (run < i) out += escapeText(decoder.decode(data.subarray(run, i)));
      out += hex(data[i] ?? 0);
      i++;
      run = i;
    }
    if (run < data.length) out += escapeText(decoder.decode(data.subarray(run)));
    return out;
  }
}
