import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { escapePayload } from '../src/wire/escape.js';

test('printable text is shown as it is', () => {
  assert.equal(escapePayload(Buffer.from('Current time is 12:00')), 'Current time is 12:00');
  assert.equal(escapePayload(Buffer.from('héllo ✓')), 'héllo ✓');
});

test('control characters, zero bytes and invalid UTF-8 are escaped', () => {
  assert.equal(escapePayload(Buffer.from('a\nb\tc\rd')), 'a\\nb\\tc\\rd');
  assert.equal(escapePayload(Buffer.from([0, 1, 0x1b, 0x7f])), '\\x00\\x01\\x1b\\x7f');
  assert.equal(escapePayload(Buffer.from([0x68, 0xff, 0xfe])), 'h\\xff\\xfe');
  assert.equal(escapePayload(Buffer.from('back\\slash')), 'back\\\\slash');
  assert.equal(escapePayload(Buffer.alloc(0)), '');
  assert.equal(escapePayload(Buffer.from('\u202eevil')), '\\u202eevil');
});

test('the rules docs/events.md lists: separators and format characters as \\uNNNN, C1 as \\xNN', () => {
  assert.equal(
    escapePayload(Buffer.from('\u2028\u2029\u202a\u202e\u2066\u2069')),
    '\\u2028\\u2029\\u202a\\u202e\\u2066\\u2069',
  );
  // The documented ambiguity: U+0085 (valid UTF-8 c2 85) and a lone byte 0x85 look the same.
  assert.equal(escapePayload(Buffer.from([0xc2, 0x85])), '\\x85');
  assert.equal(escapePayload(Buffer.from([0x85])), '\\x85');
  assert.equal(escapePayload(Buffer.from('\\x85')), '\\\\x85', 'typed text cannot pass for either');
  // Every format character (Cf) too, so that invisible text cannot pass for other text: marks,
  // a leading byte-order mark, zero-width characters, the soft hyphen, tag characters.
  assert.equal(escapePayload(Buffer.from('\ufeffa\u200eb\u200f')), '\\ufeffa\\u200eb\\u200f');
  assert.equal(escapePayload(Buffer.from("I'm\u200bfake")), "I'm\\u200bfake");
  assert.equal(
    escapePayload(Buffer.from('\u00ad\u061c\u200c\u200d\u2060\u{e0041}')),
    '\\u00ad\\u061c\\u200c\\u200d\\u2060\\u{e0041}',
  );
  // And the default-ignorable code points: the combining grapheme joiner, variation selectors,
  // Khmer and Mongolian invisibles, and the Hangul fillers that show as a space.
  assert.equal(
    escapePayload(
      Buffer.from("I'm\u034ffake I'm\u3164fake \u115f\u1160\uffa0\u17b4\u180b\ufe0f\u{e0100}"),
    ),
    "I'm\\u034ffake I'm\\u3164fake \\u115f\\u1160\\uffa0\\u17b4\\u180b\\ufe0f\\u{e0100}",
  );
  // …but not the characters around them: letters, marks, symbols, emoji.
  assert.equal(escapePayload(Buffer.from('é ✓ ก่ 👍')), 'é ✓ ก่ 👍');
});

test('invalid UTF-8: the well-formed parts keep their escapes and characters', () => {
  // A newline stays `\n` and é stays é beside an invalid byte (all of it used to turn to `\xNN`).
  assert.equal(escapePayload(Buffer.from([0x61, 0x0a, 0x62, 0xff])), 'a\\nb\\xff');
  assert.equal(
    escapePayload(Buffer.concat([Buffer.from('é\t'), Buffer.from([0xc0, 0xaf])])),
    'é\\t\\xc0\\xaf',
  );
  // Overlong forms, surrogates, code points above U+10FFFF and cut sequences are bytes, not text.
  assert.equal(escapePayload(Buffer.from([0xe0, 0x80, 0xaf])), '\\xe0\\x80\\xaf');
  assert.equal(escapePayload(Buffer.from([0xed, 0xa0, 0x80])), '\\xed\\xa0\\x80');
  assert.equal(escapePayload(Buffer.from([0xf4, 0x90, 0x80, 0x80])), '\\xf4\\x90\\x80\\x80');
  assert.equal(escapePayload(Buffer.from([0x78, 0xe2, 0x9c])), 'x\\xe2\\x9c');
});

test('property: an invalid byte between two texts escapes as the two texts and the byte', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
      const bytes = Buffer.concat([Buffer.from(a), Buffer.from([0xff]), Buffer.from(b)]);
      assert.equal(
        escapePayload(bytes),
        `${escapePayload(Buffer.from(a))}\\xff${escapePayload(Buffer.from(b))}`,
      );
    }),
  );
});

test('property: valid UTF-8 is handled alike by both paths', () => {
  // Appending 0xff sends the same text down the byte-by-byte path.
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (a) => {
      const bytes = Buffer.concat([Buffer.from(a), Buffer.from([0xff])]);
      assert.equal(escapePayload(bytes), `${escapePayload(Buffer.from(a))}\\xff`);
    }),
  );
});

test('any bytes escape to one line without control characters', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (data) => {
      const text = escapePayload(data);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(text, /[\x00-\x1f\x7f-\x9f\u2028\u2029]/u);
    }),
  );
});
