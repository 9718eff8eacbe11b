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

test('any bytes escape to one line without control characters', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (data) => {
      const text = escapePayload(data);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(text, /[\x00-\x1f\x7f-\x9f\u2028\u2029]/u);
    }),
  );
});
