/** `udplab echo-client`: hello, echo only the server, stop on "done" or silence. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { echoClient, type EchoClientEvent } from '../src/echo-client.js';
import { echoClientExitCode } from '../src/cli/echo-client.js';
import { freePort, nextMessage, rawSocket, runCli } from './helpers.js';

test('says hello, echoes the server’s datagrams byte for byte, stops when the server sends "done"', async (t) => {
  const server = await rawSocket();
  t.after(() => server.close());
  const events: EchoClientEvent[] = [];
  const running = echoClient({
    host: '127.0.0.1',
    port: server.address().port,
    onEvent: (e) => events.push(e),
  });
  const hello = await nextMessage(server);
  assert.equal(hello.data.toString(), 'hello');
  const back = { port: hello.rinfo.port, address: hello.rinfo.address };
  for (const payload of [Buffer.from('one'), Buffer.alloc(9000, 7), Buffer.from([0, 255, 10])]) {
    server.send(payload, back.port, back.address);
    assert.deepEqual((await nextMessage(server)).data, payload);
  }
  server.send(Buffer.alloc(0), back.port, back.address);
  const r = await running;
  assert.deepEqual([r.datagrams, r.bytes, r.reason, r.heard], [3, 9006, 'done', true]);
  assert.deepEqual(
    events.filter((e) => e.event === 'echoed').map((e) => e.bytes),
    [3, 9000, 3],
  );
  assert.equal(r.local.port, back.port);
});

test('echoes only its server: a stranger’s datagram is not sent back', async (t) => {
  const server = await rawSocket();
  t.after(() => server.close());
  const stranger = await rawSocket();
  t.after(() => stranger.close());
  const running = echoClient({ host: '127.0.0.1', port: server.address().port, idleMs: 5000 });
  const hello = await nextMessage(server);
  stranger.send('spoofed', hello.rinfo.port, '127.0.0.1');
  await assert.rejects(nextMessage(stranger, 100), /no datagram/);
  server.send('real', hello.rinfo.port, '127.0.0.1');
  assert.equal((await nextMessage(server)).data.toString(), 'real');
  server.send(Buffer.alloc(0), hello.rinfo.port, '127.0.0.1');
  const r = await running;
  assert.deepEqual([r.datagrams, r.reason], [1, 'done']);
});

test('repeats the hello until the server speaks (a hello can be lost)', async (t) => {
  const server = await rawSocket();
  t.after(() => server.close());
  const running = echoClient({
    host: '127.0.0.1',
    port: server.address().port,
    helloIntervalMs: 30,
    idleMs: 1000,
  });
  await nextMessage(server); // the first hello, "lost"
  const second = await nextMessage(server);
  assert.equal(second.data.toString(), 'hello');
  server.send(Buffer.alloc(0), second.rinfo.port, '127.0.0.1');
  assert.equal((await running).reason, 'done');
});

test('CLI: a server that never answers → port unreachable noted, exit 1 after --idle', async () => {
  const port = await freePort();
  const r = await runCli(['echo-client', '127.0.0.1', String(port), '--idle', '0.2']);
  assert.equal(r.code, 1);
  assert.match(r.stdout.text, /Port unreachable: nothing listens at 127\.0\.0\.1:\d+ yet/);
  assert.match(r.stdout.text, /Echoed 0 datagrams \(0 bytes\); stopped: the server never answered/);
  const json = await runCli(['echo-client', '127.0.0.1', String(port), '--idle', '0.1', '--json']);
  const summary = json.stdout.events().find((e) => e.event === 'summary');
  assert.deepEqual(summary && [summary.heard, summary.reason], [false, 'idle']);
});

test('CLI usage errors exit 2', async () => {
  assert.equal((await runCli(['echo-client', '127.0.0.1', '0'])).code, 2);
  assert.equal((await runCli(['echo-client', '127.0.0.1', '5000', '--idle', '0'])).code, 2);
  assert.equal((await runCli(['echo-client', '127.0.0.1', '5000', '--bind', 'nonsense'])).code, 2);
});

test('aborting stops it with reason "aborted"', async (t) => {
  const server = await rawSocket();
  t.after(() => server.close());
  const ac = new AbortController();
  const running = echoClient({ host: '127.0.0.1', port: server.address().port, signal: ac.signal });
  await nextMessage(server);
  ac.abort();
  assert.equal((await running).reason, 'aborted');
});

test('stops on its own after --idle with nothing from the server', async (t) => {
  const server = await rawSocket();
  t.after(() => server.close());
  const started = Date.now();
  const running = echoClient({ host: '127.0.0.1', port: server.address().port, idleMs: 100 });
  const hello = await nextMessage(server);
  server.send('once', hello.rinfo.port, '127.0.0.1');
  const r = await running;
  assert.deepEqual([r.datagrams, r.reason, r.heard], [1, 'idle', true]);
  assert.ok(Date.now() - started >= 100);
});

test('pointed at udplab server by mistake: stops at the first reply instead of ping-ponging, exit 1', async (t) => {
  const { createServer } = await import('../src/server.js');
  const server = await createServer({ host: '127.0.0.1' });
  t.after(() => server.close());
  const r = await runCli(['echo-client', '127.0.0.1', String(server.address.port), '--idle', '2']);
  assert.equal(r.code, 1);
  assert.match(r.stdout.text, /it is a reply server \(udplab server\), not bigsend/);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(server.counters.received, 1, 'only the hello reached the server');
  // The server answered (heard), but there was nothing to echo: still exit 1, as the help says.
  const json = await runCli([
    'echo-client',
    '127.0.0.1',
    String(server.address.port),
    '--idle',
    '2',
    '--json',
  ]);
  assert.equal(json.code, 1);
  const summary = json.stdout.events().find((e) => e.event === 'summary');
  assert.deepEqual(summary && [summary.heard, summary.reason], [true, 'reply-server']);
});

test('CLI: the server spoke, then went quiet → exit 0 after --idle', async (t) => {
  const server = await rawSocket();
  t.after(() => server.close());
  const running = runCli([
    'echo-client',
    '127.0.0.1',
    String(server.address().port),
    '--idle',
    '0.1',
  ]);
  const hello = await nextMessage(server);
  server.send('once', hello.rinfo.port, '127.0.0.1');
  const r = await running;
  assert.equal(r.code, 0, r.stderr.text);
  assert.match(r.stdout.text, /Echoed 1 datagram \(4 bytes\); stopped: the server went quiet/);
});

test('exit code: 0 only when the server spoke, is not a reply server, and every echo went out', () => {
  const ok = { heard: true, reason: 'idle', failed: 0 } as const;
  assert.equal(echoClientExitCode(ok), 0);
  assert.equal(echoClientExitCode({ ...ok, reason: 'done' }), 0);
  assert.equal(echoClientExitCode({ ...ok, heard: false }), 1);
  assert.equal(echoClientExitCode({ ...ok, reason: 'reply-server' }), 1);
  // An echo the socket could not send is a piece the big sender will miss.
  assert.equal(echoClientExitCode({ ...ok, failed: 1 }), 1);
});
