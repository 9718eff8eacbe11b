/**
 * matchReply (src/client-match.ts) without sockets: which datagram is the reply, and for the
 * datagrams that are not, the verdict and the give-up clue they count towards. The socket tests
 * (client-id, sealed-e2e, client) check the same through `request()`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prepareRequest } from '../src/client-prepare.js';
import { GaveUpError, matchReply } from '../src/client-match.js';
import { SealKey, SealedType, sealDatagram } from '../src/index.js';

const server = { address: '127.0.0.1', port: 1060 };
const elsewhere = { address: '127.0.0.1', port: 1061 };
const reply = (text: string): Buffer => Buffer.from(text, 'latin1');

test('plain, no ID: any datagram is the reply, shown escaped and whole (a leading "N; " is the server\'s text)', async () => {
  const p = await prepareRequest({ host: '127.0.0.1', port: 1060, message: 'hi' });
  assert.deepEqual(matchReply(p, reply('I received from you a message of 2 bytes'), server), {
    reply: reply('I received from you a message of 2 bytes'),
    text: 'I received from you a message of 2 bytes',
    verdict: undefined,
    wrongKind: 'noId',
  });
  assert.equal(matchReply(p, reply('bell\x07'), server).text, 'bell\\x07');
  // As the lab's client prints it: without --id, no ID was sent, so none is taken off.
  assert.equal(matchReply(p, reply('7; text'), server).text, '7; text');
});

test('plain with an ID: the ID matches, or the datagram counts as noId, otherId or fromElsewhere', async () => {
  const p = await prepareRequest({ host: '127.0.0.1', port: 1060, id: '42', message: 'hi' });
  assert.equal(p.payload.toString(), '42; hi');
  const ok = matchReply(p, reply('42; I received from you a message of 6 bytes'), server);
  assert.deepEqual([ok.verdict, ok.text], [undefined, 'I received from you a message of 6 bytes']);
  const cases: [Buffer, typeof server, string][] = [
    [reply('I received from you a message of 6 bytes'), server, 'noId'],
    [reply('41; I received from you a message of 6 bytes'), server, 'otherId'],
    [reply('41; hello'), elsewhere, 'fromElsewhere'],
    [reply("I'm fake"), elsewhere, 'fromElsewhere'],
    [reply("I'm fake"), { address: '127.0.0.2', port: 1060 }, 'fromElsewhere'],
  ];
  for (const [data, from, kind] of cases) {
    const m = matchReply(p, data, from);
    assert.deepEqual(
      [m.verdict, m.wrongKind, m.text],
      ['wrong-id', kind, data.toString('latin1')],
      data.toString(),
    );
  }
  // The right ID from another endpoint is not this function's to refuse (the caller's `stranger`).
  assert.equal(matchReply(p, reply('42; x'), elsewhere).verdict, undefined);
});

test('sealed: only an authentic reply with the request ID matches; the rest are not-sealed, forged or wrong-id', async () => {
  const key = SealKey.fromBytes(Buffer.alloc(32, 7));
  const other = SealKey.fromBytes(Buffer.alloc(32, 8));
  const p = await prepareRequest({ host: '127.0.0.1', port: 1060, key, id: '99', message: 'hi' });
  assert.equal(p.sealed, 99n);
  const seal = (k: SealKey, type: SealedType, id: bigint, body: string): Buffer =>
    sealDatagram(k, { type, id, timeMs: Date.now(), attempt: 1, body: Buffer.from(body) });

  const ok = matchReply(p, seal(key, SealedType.REPLY, 99n, 'the reply'), server);
  assert.deepEqual(
    [ok.verdict, ok.reply.toString(), ok.text],
    [undefined, 'the reply', 'the reply'],
  );
  assert.equal(matchReply(p, reply("I'm fake"), server).verdict, 'not-sealed');
  assert.equal(matchReply(p, seal(other, SealedType.REPLY, 99n, 'x'), server).verdict, 'forged');
  // A request echoed back (a reflection) authenticates but is not a reply.
  assert.equal(matchReply(p, seal(key, SealedType.REQUEST, 99n, 'x'), server).verdict, 'forged');
  assert.equal(matchReply(p, seal(key, SealedType.REPLY, 98n, 'x'), server).verdict, 'wrong-id');
  const tampered = seal(key, SealedType.REPLY, 99n, 'x');
  tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
  const t = matchReply(p, tampered, server);
  assert.equal(t.verdict, 'forged');
  assert.equal(t.reply, tampered); // nothing of a forgery is believed: the raw datagram, escaped
});

test('GaveUpError counts its attempts as the CLI does: 1 attempt, 2 attempts', () => {
  const message = (attempts: number): string =>
    new GaveUpError({ attempts, elapsedMs: 100, reason: 'timeout' }).message;
  assert.equal(message(1), 'Cannot receive data from server (1 attempt over 0.1 s)');
  assert.equal(message(2), 'Cannot receive data from server (2 attempts over 0.1 s)');
});
