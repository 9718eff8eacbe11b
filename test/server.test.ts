import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createServer, type ServerEvent } from '../src/index.js';
import { nextMessage, rawSocket } from './helpers.js';

test('replies "I received from you a message of N bytes" byte for byte', async (t) => {
  const events: ServerEvent[] = [];
  const server = await createServer({ host: '127.0.0.1', port: 0, onEvent: (e) => events.push(e) });
  t.after(() => server.close());
  const peer = await rawSocket();
  t.after(() => peer.close());
  peer.send('hello', server.address.port, '127.0.0.1');
  const { data, rinfo } = await nextMessage(peer);
  assert.equal(data.toString('latin1'), 'I received from you a message of 5 bytes');
  assert.equal(rinfo.port, server.address.port);
  const message = events.find((e) => e.event === 'message');
  assert.deepEqual(
    message && { from: message.from.port, text: message.text, bytes: message.bytes },
    {
      from: peer.address().port,
      text: 'hello',
      bytes: 5,
    },
  );
});
