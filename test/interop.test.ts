/**
 * Interoperability with the lab's Python programs (plain ASCII on the wire) and netcat.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { createServer, request, requestSeries } from '../src/index.js';
import { fixture, runCli, spawnCollect } from './helpers.js';

const hasNc = spawnSync('sh', ['-c', 'command -v nc'], { encoding: 'utf8' }).status === 0;

test('a plain Python client (socket.sendto of ASCII) gets the exact reply bytes', async (t) => {
  const server = await createServer({ host: '127.0.0.1' });
  t.after(() => server.close());
  const py = spawnCollect('python3', [
    fixture('lab_client.py'),
    '127.0.0.1',
    String(server.address.port),
    'The time is 12:34',
  ]);
  assert.equal(await py.exited, 0, py.stderr());
  assert.match(py.stdout(), /The OS assigned me the address \('0\.0\.0\.0', \d+\)\n/);
  assert.ok(py.stdout().endsWith('\nI received from you a message of 17 bytes'), py.stdout());
});

test('a Python client over IPv6', async (t) => {
  const server = await createServer({ host: '::1' });
  t.after(() => server.close());
  const py = spawnCollect('python3', [
    fixture('lab_client.py'),
    '::1',
    String(server.address.port),
    'abc',
  ]);
  assert.equal(await py.exited, 0, py.stderr());
  assert.ok(py.stdout().endsWith('I received from you a message of 3 bytes'));
});

test('udplab client works against a Python server that replies with any text', async (t) => {
  const py = spawnCollect('python3', [
    '-u',
    fixture('lab_server.py'),
    '127.0.0.1',
    '0',
    'Your data was {n} bytes long',
  ]);
  t.after(() => py.child.kill());
  const m = await py.waitFor(/Listening at 127\.0\.0\.1 (\d+)/);
  const port = Number(m[1]);
  const r = await request({ host: '127.0.0.1', port, message: 'hello python', timeoutMs: 500 });
  assert.equal(r.text, 'Your data was 12 bytes long');
  const cli = await runCli(['client', '127.0.0.1', String(port), '-m', 'xyz', '--timeout', '0.5']);
  assert.equal(cli.code, 0);
  assert.match(cli.stdout.text, /replied "Your data was 3 bytes long"/);
  await py.waitFor(/says b'xyz'/);
});

test('the lab remote client (Python, doubling timer) works against udplab server --drop 0.5', async (t) => {
  const server = await createServer({
    host: '127.0.0.1',
    dropProbability: 0.5,
    perDatagramEvents: false,
  });
  t.after(() => server.close());
  const py = spawnCollect('python3', [
    fixture('lab_client_remote.py'),
    '127.0.0.1',
    String(server.address.port),
    '8',
  ]);
  assert.equal(await py.exited, 0, py.stderr());
  const lines = py.stdout().trim().split('\n');
  assert.equal(lines.length, 8);
  // Each request fails with probability 1/32; P(no request of 8 answered) = 32^-8.
  const answered = lines.filter((l) =>
    /^reply I received from you a message of \d+ bytes$/.test(l),
  );
  assert.ok(answered.length >= 1, lines.join('\n'));
  assert.ok(server.counters.dropped >= 1 || answered.length === 8);
});

test(
  'nc -u (netcat-openbsd) gets the reply from udplab server',
  { skip: hasNc ? false : 'nc (netcat-openbsd) is not installed' },
  async (t) => {
    const server = await createServer({ host: '127.0.0.1' });
    t.after(() => server.close());
    // printf sends "hello\n" (6 bytes); -w1 waits a second for the reply, then exits.
    const nc = spawnCollect('sh', [
      '-c',
      `printf 'hello\\n' | nc -u -w1 127.0.0.1 ${server.address.port}`,
    ]);
    await nc.exited;
    assert.equal(nc.stdout(), 'I received from you a message of 6 bytes');
  },
);

test('udplab client and a seeded series keep working against the Python server', async (t) => {
  const py = spawnCollect('python3', ['-u', fixture('lab_server.py'), '127.0.0.1', '0']);
  t.after(() => py.child.kill());
  const port = Number((await py.waitFor(/Listening at 127\.0\.0\.1 (\d+)/))[1]);
  const s = await requestSeries({
    host: '127.0.0.1',
    port,
    count: 3,
    intervalMs: 0,
    timeoutMs: 500,
  });
  assert.equal(s.answered, 3);
});

test('udplab client --id against the Python server (it does not echo IDs): gave-up says it answered without the ID', async (t) => {
  const py = spawnCollect('python3', ['-u', fixture('lab_server.py'), '127.0.0.1', '0']);
  t.after(() => py.child.kill());
  const port = String((await py.waitFor(/Listening at 127\.0\.0\.1 (\d+)/))[1]);
  const args = ['client', '127.0.0.1', port, '--id', '--timeout', '0.05', '--attempts', '2'];
  const human = await runCli(args);
  assert.equal(human.code, 1);
  assert.equal(human.stdout.text.match(/\(wrong-id\): "I received from you/g)?.length, 2);
  assert.match(
    human.stdout.text,
    /Cannot receive data from server: no reply with this request's ID after 2 attempts over [\d.]+ m?s \(2 replies came without it\)\.\nLikely cause:\n {2}- the server answered without the request's ID \(2 ignored as wrong-id\): it does not echo request IDs \(the lab's Python server does not\); run the client without --id, or use udplab server, which echoes them\n$/,
  );
  assert.doesNotMatch(human.stdout.text, /not running|lost on the way|firewall/);

  const json = await runCli([...args, '--json']);
  assert.equal(json.code, 1);
  const gaveUp = json.stdout.events().at(-1);
  assert.equal(gaveUp?.event, 'gave-up');
  assert.equal(gaveUp.wrongId, 2);
  assert.equal(gaveUp.keyId, undefined);
});
