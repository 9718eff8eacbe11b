/**
 * `udplab client --id` when no reply carries the request's ID: only replies from the server's own
 * address and port with no ID at all mean "the server does not echo IDs; run without --id". A
 * datagram with another request's ID, or from any other address or port (a spoofer), is reported
 * for what it is, and the advice to drop the defence is not given.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GaveUpError, request } from '../src/index.js';
import { nextMessage, rawSocket, runCli } from './helpers.js';

const NO_ECHO = /does not echo request IDs|run the client without --id/;

test('--id against a server that does not echo IDs: the missing-echo diagnosis (noId)', async (t) => {
  const peer = await rawSocket();
  t.after(() => peer.close());
  // The lab's Python server: answers every request from its own socket, without the ID.
  peer.on('message', (data, rinfo) => {
    peer.send(`I received from you a message of ${data.length} bytes`, rinfo.port, rinfo.address);
  });
  const port = String(peer.address().port);
  const args = ['client', '127.0.0.1', port, '--id', '--timeout', '0.05', '--attempts', '2'];
  const human = await runCli(args);
  assert.equal(human.code, 1);
  assert.match(
    human.stdout.text,
    /\nCannot receive data from server: no reply with this request's ID after 2 attempts over [\d.]+ m?s \(2 replies came without it\)\.\nLikely cause:\n {2}- the server answered without the request's ID \(2 ignored as wrong-id\): it does not echo request IDs \(the lab's Python server does not\); run the client without --id, or use udplab server, which echoes them\n$/,
  );
  assert.doesNotMatch(human.stdout.text, /Also ignored|possibly spoofed|another request's ID/);

  const json = await runCli([...args, '--json']);
  const gaveUp = json.stdout.events().at(-1);
  assert.equal(gaveUp?.event, 'gave-up');
  assert.deepEqual(
    [gaveUp.wrongId, gaveUp.noId, gaveUp.otherId, gaveUp.fromElsewhere],
    [2, 2, 0, 0],
  );
});

test('--id --promiscuous, the server silent, a spoofer with another ID: no advice to drop --id', async (t) => {
  const server = await rawSocket(); // the suspended server: receives, never answers
  const spoofer = await rawSocket();
  t.after(() => server.close());
  t.after(() => spoofer.close());
  for (const json of [false, true]) {
    const requestSeen = nextMessage(server);
    const run = runCli([
      'client',
      '127.0.0.1',
      String(server.address().port),
      '--promiscuous',
      '--id',
      '--timeout',
      '0.3',
      '--attempts',
      '1',
      ...(json ? ['--json'] : []),
    ]);
    const { rinfo } = await requestSeen;
    // From another port of the same host: one fake with another request's ID, one with none.
    spoofer.send("42; I'm fake", rinfo.port, '127.0.0.1');
    spoofer.send("I'm fake", rinfo.port, '127.0.0.1');
    const r = await run;
    assert.equal(r.code, 1, r.stderr.text);
    if (json) {
      const ev = r.stdout.events();
      const ignored = ev.filter((e) => e.event === 'ignored');
      assert.deepEqual(
        ignored.map((e) => [e.reason, e.text, e.bytes]),
        [
          ['wrong-id', "42; I'm fake", 12],
          ['wrong-id', "I'm fake", 8],
        ],
      );
      const gaveUp = ev.at(-1);
      assert.equal(gaveUp?.event, 'gave-up');
      assert.deepEqual(
        [gaveUp.wrongId, gaveUp.noId, gaveUp.otherId, gaveUp.fromElsewhere],
        [2, 0, 0, 2],
      );
      continue;
    }
    const spooferPort = String(spoofer.address().port);
    // The ignored line shows the whole datagram, the wrong ID included.
    assert.match(
      r.stdout.text,
      new RegExp(
        `^Ignored 12 bytes from 127\\.0\\.0\\.1:${spooferPort} \\(wrong-id\\): "42; I'm fake"$`,
        'm',
      ),
    );
    assert.doesNotMatch(r.stdout.text, NO_ECHO);
    assert.match(
      r.stdout.text,
      /\nCannot receive data from server: no reply after 1 attempt over [\d.]+ m?s\.\nAlso ignored: 2 datagrams from an address or port other than the server’s, with a missing or wrong request ID — possibly spoofed; --id kept them out\nLikely causes:\n {2}- the server is not running \(or crashed\)\n/,
    );
  }
});

test('--id, the server answers with another request ID: reported as such, not as a missing echo', async (t) => {
  const peer = await rawSocket();
  t.after(() => peer.close());
  // A server that answers every request with ID 123 (a late reply, or one that mixes IDs up).
  peer.on('message', (data, rinfo) => {
    peer.send(
      `123; I received from you a message of ${data.length} bytes`,
      rinfo.port,
      rinfo.address,
    );
  });
  const port = String(peer.address().port);
  const args = ['client', '127.0.0.1', port, '--id', '7', '--timeout', '0.05', '--attempts', '2'];
  const human = await runCli(args);
  assert.equal(human.code, 1);
  assert.equal(
    human.stdout.text.match(/\(wrong-id\): "123; I received from you a message of \d+ bytes"$/gm)
      ?.length,
    2,
    human.stdout.text,
  );
  assert.doesNotMatch(human.stdout.text, NO_ECHO);
  assert.doesNotMatch(human.stdout.text, /came without it|possibly spoofed/);
  assert.match(
    human.stdout.text,
    /\nCannot receive data from server: no reply with this request's ID after 2 attempts over [\d.]+ m?s \(2 replies carried another request's ID\)\.\nLikely causes:\n {2}- the server answered with another request's ID \(2 ignored as wrong-id\): late replies to an earlier request, or a server that does not copy the ID back as it came\n {2}- the request or the reply was lost on the way\n$/,
  );

  const json = await runCli([...args, '--json']);
  const gaveUp = json.stdout.events().at(-1);
  assert.equal(gaveUp?.event, 'gave-up');
  assert.deepEqual(
    [gaveUp.wrongId, gaveUp.noId, gaveUp.otherId, gaveUp.fromElsewhere],
    [2, 0, 2, 0],
  );

  // The library's error says the same, without the missing-echo wording.
  await assert.rejects(
    request({ host: '127.0.0.1', port: Number(port), id: '7', timeoutMs: 50, attempts: 1 }),
    (err: unknown) => {
      assert.ok(err instanceof GaveUpError);
      assert.deepEqual(err.details, {
        attempts: 1,
        elapsedMs: err.details.elapsedMs,
        reason: 'timeout',
        wrongId: 1,
        noId: 0,
        otherId: 1,
        fromElsewhere: 0,
      });
      assert.match(err.message, /the server answered once with another request's ID/);
      assert.doesNotMatch(err.message, /does not echo/);
      return true;
    },
  );
});
