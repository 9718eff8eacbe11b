/**
 * The client's human lines: long payloads cut as the server cuts them (docs/events.md: at most
 * the first 200 characters, then `…`; `--json` keeps the whole text), and counts in the singular
 * when they are 1.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clip, SHOWN_CHARS } from '../src/cli/output.js';
import { escapePayload } from '../src/wire/escape.js';
import { createServer } from '../src/index.js';
import { Capture, rawSocket, runCli, until } from './helpers.js';

test('clip: at most 200 characters then …, never cutting an escape or a surrogate pair', () => {
  assert.equal(SHOWN_CHARS, 200);
  assert.equal(clip('short'), 'short');
  assert.equal(clip('y'.repeat(200)), 'y'.repeat(200), 'exactly 200: whole');
  assert.equal(clip('y'.repeat(201)), `${'y'.repeat(200)}…`);
  // An escape straddling the 200th character is left out whole, not cut into `\x0`.
  assert.equal(clip(`${'a'.repeat(198)}\\x00${'b'.repeat(50)}`), `${'a'.repeat(198)}…`);
  assert.equal(clip(`${'a'.repeat(196)}\\x00${'b'.repeat(50)}`), `${'a'.repeat(196)}\\x00…`);
  assert.equal(clip(`${'a'.repeat(197)}\\u2028${'b'.repeat(50)}`), `${'a'.repeat(197)}…`);
  assert.equal(clip(`${'a'.repeat(199)}\\\\${'b'.repeat(50)}`), `${'a'.repeat(199)}…`);
  assert.equal(clip(`${'a'.repeat(192)}\\u{e0041}${'b'.repeat(50)}`), `${'a'.repeat(192)}…`);
  assert.equal(
    clip(`${'a'.repeat(191)}\\u{e0041}${'b'.repeat(50)}`),
    `${'a'.repeat(191)}\\u{e0041}…`,
  );
  assert.equal(clip('\\\\'.repeat(150)), '\\\\'.repeat(100) + '…');
  assert.equal(clip(`${'a'.repeat(199)}😀${'b'.repeat(50)}`), `${'a'.repeat(199)}…`);
  // Whatever the payload, the cut text is at most 200 characters and ends at an escape's end.
  const bytes = Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 37) % 256));
  for (let start = 0; start < 300; start++) {
    const text = escapePayload(bytes.subarray(start));
    assert.ok(text.length > SHOWN_CHARS);
    const cut = clip(text);
    assert.ok(cut.length <= SHOWN_CHARS + 1 && text.startsWith(cut.slice(0, -1)));
    assert.match(cut, /^(?:[^\\]|\\[\\nrt]|\\x[0-9a-f]{2}|\\u[0-9a-f]{4})*…$/su);
  }
  // A `\u{` that no `}` closes (not from escapePayload, which doubles a sent `\`) ends: no hang.
  assert.equal(
    clip(`${'a'.repeat(150)}\\u{${'b'.repeat(100)}`),
    `${'a'.repeat(150)}\\u{${'b'.repeat(47)}…`,
  );
  // The same for format characters above U+FFFF (tag characters: `\u{e0041}`, 9 characters).
  const tags = escapePayload(Buffer.from('x\u{e0041}'.repeat(100)));
  for (let start = 0; start < 20; start++) {
    const cut = clip(tags.slice(start * 10));
    assert.match(cut, /^(?:x|\\u\{e0041\})*…$/su, `from ${String(start * 10)}`);
  }
});

test('client: a long reply and a long ignored datagram are cut in the human line, whole in JSON', async (t) => {
  const peer = await rawSocket();
  t.after(() => peer.close());
  // 326 bytes with control bytes (escaped as \xNN: 626 characters), then a 65,000-byte reply.
  const longReply = Buffer.concat([Buffer.alloc(100, 0), Buffer.alloc(226, 'x')]);
  const huge = Buffer.alloc(65_000, 'z');
  let reply: Buffer = longReply;
  peer.on('message', (data, rinfo) => {
    const id = /^(\d{1,20}); /.exec(data.toString('latin1'))?.[1];
    if (id === undefined) {
      peer.send(reply, rinfo.port, rinfo.address);
      return;
    }
    // With --id: first a long reply without the ID (ignored), then the real one.
    peer.send(huge, rinfo.port, rinfo.address);
    peer.send(Buffer.concat([Buffer.from(`${id}; `), longReply]), rinfo.port, rinfo.address);
  });
  const port = String(peer.address().port);
  const shown = (line: string | undefined): string => /"(.*)"/.exec(line ?? '')?.[1] ?? '';

  const human = await runCli(['client', '127.0.0.1', port]);
  assert.equal(human.code, 0, human.stderr.text);
  const replied = human.stdout.text.split('\n').find((l) => l.includes(' replied '));
  assert.equal(shown(replied), `${'\\x00'.repeat(50)}…`, replied);
  assert.ok((replied ?? '').length < 300, replied);

  const json = await runCli(['client', '127.0.0.1', port, '--json']);
  const received = json.stdout.events().find((e) => e.event === 'received');
  assert.equal(received?.text, escapePayload(longReply), 'JSON keeps the whole text');
  assert.equal(received.text.length, 626);

  reply = huge;
  const big = await runCli(['client', '127.0.0.1', port]);
  const bigLine = big.stdout.text.split('\n').find((l) => l.includes(' replied '));
  assert.equal(shown(bigLine), `${'z'.repeat(200)}…`);

  const withId = await runCli(['client', '127.0.0.1', port, '--id']);
  assert.equal(withId.code, 0, withId.stderr.text);
  const ignored = withId.stdout.text.split('\n').find((l) => l.startsWith('Ignored'));
  assert.match(ignored ?? '', /^Ignored 65000 bytes from .* \(wrong-id\): "z{200}…"$/);
  const idJson = await runCli(['client', '127.0.0.1', port, '--id', '--json']);
  const ignoredEvent = idJson.stdout.events().find((e) => e.event === 'ignored');
  assert.equal(String(ignoredEvent?.text).length, 65_000);
});

test('client: singular counts (1 request sent, 1 retransmission, 1 late duplicate, 1 byte)', async (t) => {
  const server = await createServer({ host: '127.0.0.1' });
  t.after(() => server.close());
  // Ctrl-C after the first of three requests: the summary so far counts one.
  const ac = new AbortController();
  const stdout = new Capture();
  const run = runCli(
    ['client', '127.0.0.1', String(server.address.port), '-c', '3', '-i', '30', '-m', 'x'],
    { signal: ac.signal, stdout },
  );
  await until(() => (stdout.text.includes(' replied ') ? true : undefined));
  ac.abort();
  assert.equal((await run).code, 0);
  assert.match(stdout.text, /^Sent 1 byte to /m);
  assert.match(
    stdout.text,
    /^1 request sent, 1 answered, 0 failed, 0\.0% loss, 0 retransmissions$/m,
  );

  // One retransmission and one late duplicate: a peer that ignores the very first datagram and
  // answers every other one twice (the second request's copy comes after it stopped listening).
  const peer = await rawSocket();
  t.after(() => peer.close());
  let seen = 0;
  peer.on('message', (_data, rinfo) => {
    if (++seen === 1) return;
    peer.send('a', rinfo.port, rinfo.address);
    peer.send('a', rinfo.port, rinfo.address);
  });
  const r = await runCli([
    'client',
    '127.0.0.1',
    String(peer.address().port),
    '-c',
    '2',
    '-i',
    '0.2',
    '--timeout',
    '0.05',
    '-m',
    'xy',
  ]);
  assert.equal(r.code, 0, r.stderr.text);
  assert.match(r.stdout.text, /^Sent 2 bytes to /m);
  assert.match(r.stdout.text, /^Ignored 1 byte from .* \(duplicate\): "a"$/m);
  assert.match(
    r.stdout.text,
    /^2 requests sent, 2 answered, 0 failed, 0\.0% loss, 1 retransmission, 1 late duplicate$/m,
  );
});

test('client give-up: a sealed client answered in plain text is told that, not that the server is down', async () => {
  const { renderClient } = await import('../src/cli/client-action.js');
  const pc = (await import('picocolors')).default.createColors(false);
  const base = {
    event: 'gave-up',
    time: '',
    code: 'UDPLAB_ERR_TIMEOUT',
    attempts: 5,
    to: { address: '127.0.0.1', port: 1060 },
    local: { address: '127.0.0.1', port: 40000 },
  };
  const plain = renderClient(
    { ...base, reason: 'timeout', elapsedMs: 3100, keyId: 'k1', forged: 0, notSealed: 3 } as never,
    pc,
  );
  assert.match(plain ?? '', /Likely cause:\n {2}- the server answered in plain text \(3 ignored\)/);
  assert.doesNotMatch(plain ?? '', /not running/);
  // Nothing came back at all: the usual causes, the key mismatch first.
  const silent = renderClient(
    { ...base, reason: 'timeout', elapsedMs: 3100, keyId: 'k1', forged: 0, notSealed: 0 } as never,
    pc,
  );
  assert.match(
    silent ?? '',
    /Likely causes:\n {2}- a key mismatch, if the key ID on the server’s "Sealed:" line is not this client's \(k1\)[^\n]*\n {2}- with the same key: the server’s replay cache is full/,
  );
  // A stale request (clocks apart, or a server started since) and a reused --id look the same.
  assert.match(silent ?? '', /\n {2}- the clocks: [^\n]*refuses the request as stale/);
  assert.match(
    silent ?? '',
    /\n {2}- if you chose the ID \(--id N\): [^\n]*as a replay \(sealed IDs are numbers: --id 007 is 7\)/,
  );
  assert.match(silent ?? '', /not running/);
});

test('client give-up, Task 1: sent to 127.0.0.2, a server bound to 0.0.0.0 answers from 127.0.0.1, and the connected client says so first', async (t) => {
  // The lab's setup: `udplab server 0.0.0.0 PORT`, then `udplab client 127.0.0.2 PORT`.
  const server = await createServer({ host: '0.0.0.0', port: 0 });
  t.after(() => server.close());
  const port = server.address.port;
  const r = await runCli(['client', '127.0.0.2', String(port), '--attempts', '2', '-t', '0.05']);
  assert.equal(r.code, 1);
  assert.equal(server.counters.replied, 2, 'the server did answer, from 127.0.0.1');
  assert.match(
    r.stdout.text,
    new RegExp(
      `Likely causes:\\n {2}- the server is bound to 0\\.0\\.0\\.0, "" or :: \\(all interfaces\\), so its reply comes from 127\\.0\\.0\\.1:${String(port)} \\(the source address of its route back to this client\\), not 127\\.0\\.0\\.2:${String(port)}, and this client accepts a reply only from the address it sent to: bind the server to 127\\.0\\.0\\.2, or send to 127\\.0\\.0\\.1\\n {2}- the server is not running`,
    ),
  );
  const gaveUp = (
    await runCli(['client', '127.0.0.2', String(port), '--attempts', '1', '-t', '0.05', '--json'])
  ).stdout
    .events()
    .find((e) => e.event === 'gave-up');
  assert.deepEqual(gaveUp?.to, { address: '127.0.0.2', port });
  assert.deepEqual((gaveUp.local as { address: string }).address, '127.0.0.1');
});

test('client give-up: the wildcard-server cause is last for another machine, and not said to the promiscuous client', async () => {
  const { renderClient } = await import('../src/cli/client-action.js');
  const pc = (await import('picocolors')).default.createColors(false);
  const gaveUp = (local: string, to: string): string =>
    renderClient(
      {
        event: 'gave-up',
        time: '',
        code: 'UDPLAB_ERR_TIMEOUT',
        reason: 'timeout',
        attempts: 5,
        elapsedMs: 3100,
        to: { address: to, port: 1060 },
        local: { address: local, port: 40000 },
      } as never,
      pc,
    ) ?? '';
  const remote = gaveUp('192.0.2.10', '192.0.2.20');
  assert.match(
    remote,
    /\n {2}- the server is bound to 0\.0\.0\.0, "" or :: \(all interfaces\) and answers from the source address of its route back, not always the one you sent to \(e\.g\. 127\.0\.0\.1 when you sent to 127\.0\.0\.2\), and this client accepts a reply only from the address it sent to: bind the server to the address you send to$/,
  );
  assert.match(remote, /Likely causes:\n {2}- the server is not running/);
  for (const [local, to] of [
    ['0.0.0.0', '127.0.0.2'], // promiscuous: takes a reply from anyone
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
  ] as const)
    assert.doesNotMatch(gaveUp(local, to), /bound to 0\.0\.0\.0/, `${local} → ${to}`);
});
