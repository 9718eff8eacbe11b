import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { ServerCore, type Reply } from '../src/index.js';
import { idLength, isValidId, parseId, randomId, replyText, withId } from '../src/wire/text.js';
import { stripId } from '../src/wire/text.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

test('the lab reply text', () => {
  assert.equal(replyText(0), 'I received from you a message of 0 bytes');
  assert.equal(replyText(65507), 'I received from you a message of 65507 bytes');
});

test('request ID grammar: 1–20 digits, then "; "', () => {
  assert.equal(parseId(b('42; hello')), '42');
  assert.equal(parseId(b('0; ')), '0');
  assert.equal(parseId(b('18446744073709551615; x')), '18446744073709551615');
  assert.equal(parseId(b('123456789012345678901; x')), undefined, '21 digits');
  assert.equal(parseId(b('42;hello')), undefined, 'no space');
  assert.equal(parseId(b('42 ; hello')), undefined);
  assert.equal(parseId(b('; hello')), undefined, 'no digits');
  assert.equal(parseId(b('x42; hello')), undefined);
  assert.equal(parseId(b('42')), undefined);
  assert.equal(parseId(b('42;')), undefined);
  assert.equal(parseId(b('')), undefined);
  assert.equal(parseId(b('Current time is 12:00')), undefined);
});

test('withId / stripId round trip', () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[0-9]{1,20}$/),
      fc.uint8Array({ maxLength: 64 }),
      (id, body) => {
        const data = Buffer.concat([b(withId(id, '')), body]);
        assert.equal(parseId(data), id);
        assert.deepEqual(Buffer.from(stripId(data, id)), Buffer.from(body));
      },
    ),
  );
});

test('random IDs are valid 64-bit decimal numbers', () => {
  for (let i = 0; i < 200; i++) {
    const id = randomId(randomBytes);
    assert.ok(isValidId(id), id);
    assert.ok(BigInt(id) < 2n ** 64n);
  }
  assert.equal(
    randomId(() => new Uint8Array(8).fill(255)),
    '18446744073709551615',
  );
  assert.equal(
    randomId(() => new Uint8Array(8)),
    '0',
  );
});

test("plain core: an ID reply copies the request's token before the lab reply, byte for byte, with or without events", () => {
  // The reply is built from bytes (idLength, no string): the same as withId(parseId(d), replyText(n)).
  fc.assert(
    fc.property(
      fc.oneof(fc.stringMatching(/^[0-9]{1,22}$/), fc.constant('')),
      fc.constantFrom('; ', ';', ' ; ', ''),
      fc.uint8Array({ maxLength: 80 }),
      fc.boolean(),
      (digits, sep, body, perDatagramEvents) => {
        assert.equal(
          idLength(Buffer.from(digits + sep + 'x', 'latin1')),
          sep === '; ' && digits.length <= 20 ? digits.length : 0,
        );
        const data = Buffer.concat([Buffer.from(digits + sep, 'latin1'), body]);
        const core = new ServerCore({ perDatagramEvents });
        const replies: Reply[] = [];
        core.handleBatch([{ data, from: { address: '127.0.0.1', port: 9 } }], '', replies, []);
        const id = parseId(data);
        const expected =
          id === undefined ? replyText(data.length) : withId(id, replyText(data.length));
        assert.equal(Buffer.from(replies[0]?.data ?? []).toString('latin1'), expected);
      },
    ),
    { numRuns: 500 },
  );
});
