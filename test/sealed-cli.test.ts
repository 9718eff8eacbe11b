import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ErrorCodes, GaveUpError, parseKey, readKeyFile, request } from '../src/index.js';
import { Capture, runCli, until } from './helpers.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'udplab-key-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('keygen --out: a 0600 file with a base64 256-bit key; never overwritten without --force', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'lab.key');
  const r = await runCli(['keygen', '--out', file, '--json']);
  assert.equal(r.code, 0, r.stderr.text);
  const ev = r.stdout.events()[0];
  assert.equal(ev?.event, 'key');
  assert.equal(ev.path, file);
  assert.equal(ev.key, undefined, 'the secret is not printed when written to a file');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const text = await readFile(file, 'utf8');
  assert.match(text, /^[A-Za-z0-9+/]{43}=\n$/);
  assert.equal(Buffer.from(text.trim(), 'base64').length, 32);
  assert.equal(parseKey(text).id, ev.keyId);

  const again = await runCli(['keygen', '--out', file, '--json']);
  assert.equal(again.code, 1);
  assert.match(again.stderr.text, /exists already.*--force/);
  assert.equal(again.stdout.events()[0]?.code, ErrorCodes.KEY);
  assert.equal(await readFile(file, 'utf8'), text, 'the old key is intact');

  await chmod(file, 0o644);
  const forced = await runCli(['keygen', '--out', file, '--force']);
  assert.equal(forced.code, 0);
  assert.match(forced.stdout.text, /Wrote a new 256-bit key to .*mode 0600, key ID [0-9a-f]{16}/);
  assert.notEqual(await readFile(file, 'utf8'), text);
  assert.equal((await stat(file)).mode & 0o777, 0o600, 'replaced by a new 0600 file');
});

test('keygen without --out prints the key; --force alone is a usage error', async () => {
  const r = await runCli(['keygen']);
  assert.equal(r.code, 0);
  assert.match(r.stdout.text, /^[A-Za-z0-9+/]{43}=\n$/);
  const a = await runCli(['keygen']);
  assert.notEqual(a.stdout.text, r.stdout.text, 'random');
  assert.equal((await runCli(['keygen', '--force'])).code, 2);
});

test('key files: missing, not a key, too open', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(readKeyFile(join(dir, 'none')), { code: ErrorCodes.KEY });
  const bad = join(dir, 'bad.key');
  await writeFile(bad, 'hello\n', { mode: 0o600 });
  await assert.rejects(readKeyFile(bad), (e: Error & { code?: string }) => {
    assert.equal(e.code, ErrorCodes.KEY);
    assert.match(e.message, /not a udplab key/);
    return true;
  });
  const short = join(dir, 'short.key');
  await writeFile(short, `${Buffer.alloc(16).toString('base64')}\n`, { mode: 0o600 });
  await assert.rejects(readKeyFile(short), { code: ErrorCodes.KEY });
  const open = join(dir, 'open.key');
  await runCli(['keygen', '--out', open]);
  assert.equal((await readKeyFile(open)).tooOpen, false);
  await chmod(open, 0o644);
  assert.equal((await readKeyFile(open)).tooOpen, true);
  const c = await runCli(['client', '127.0.0.1', '9', '--key-file', open, '--attempts', '1']);
  assert.match(c.stderr.text, /warning: key file .* is readable by other users; run: chmod 600/);
  // A path with a control character and a space: escaped wherever it is shown, one shell word.
  const odd = join(dir, 'a\x1bb c.key');
  const made = await runCli(['keygen', '--out', odd]);
  assert.ok(!made.stdout.text.includes('\x1b'), made.stdout.text);
  assert.ok(made.stdout.text.includes('a\\x1bb c.key'), made.stdout.text);
  await chmod(odd, 0o644);
  const w = await runCli(['client', '127.0.0.1', '9', '--key-file', odd, '--attempts', '1']);
  assert.ok(!w.stderr.text.includes('\x1b'), w.stderr.text);
  // Shown escaped, the path is no command to copy: the hint then names none.
  assert.match(
    w.stderr.text,
    /a\\x1bb c\.key is readable by other users; make it readable by you only \(chmod 600\)\n/,
  );
  const spaced = join(dir, "it's 2.key");
  await runCli(['keygen', '--out', spaced]);
  await chmod(spaced, 0o644);
  const q = await runCli(['client', '127.0.0.1', '9', '--key-file', spaced, '--attempts', '1']);
  assert.ok(q.stderr.text.includes(`run: chmod 600 '${dir}/it'\\''s 2.key'`), q.stderr.text);

  const missing = await runCli(['client', '127.0.0.1', '9', '--key-file', join(dir, 'none')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr.text, /^udplab: error: cannot read key file .*: no such file\n$/);
});

test('server and client --key-file: the sealed exchange; a wrong key → exit 1 naming a key mismatch', async (t) => {
  const dir = await tempDir(t);
  const key = join(dir, 'a.key');
  const other = join(dir, 'b.key');
  await runCli(['keygen', '--out', key]);
  await runCli(['keygen', '--out', other]);
  const ac = new AbortController();
  const stdout = new Capture();
  const server = runCli(['server', '127.0.0.1', '0', '--key-file', key, '--json'], {
    signal: ac.signal,
    stdout,
  });
  t.after(() => ac.abort());
  const listening = await until(() => stdout.events().find((e) => e.event === 'listening'));
  const keyId = (await readKeyFile(key)).key.id;
  assert.equal(listening.keyId, keyId);
  assert.equal(listening.windowMs, 30000);
  assert.equal(listening.replayCacheSize, 65536);
  const port = String(listening.port);

  const ok = await runCli(['client', '127.0.0.1', port, '--key-file', key, '-m', 'hi', '--json']);
  assert.equal(ok.code, 0, ok.stderr.text);
  const received = ok.stdout.events().find((e) => e.event === 'received');
  assert.equal(received?.text, 'I received from you a message of 2 bytes');
  assert.equal(received.sealed, true);

  const human = await runCli(['client', '127.0.0.1', port, '--key-file', key]);
  assert.match(human.stdout.text, /Sent \d+ sealed bytes .* with request ID \d+/);
  assert.match(human.stdout.text, /sealed and authenticated/);

  const wrong = await runCli([
    'client',
    '127.0.0.1',
    port,
    '--key-file',
    other,
    '--timeout',
    '0.05',
    '--attempts',
    '2',
  ]);
  assert.equal(wrong.code, 1);
  const otherId = (await readKeyFile(other)).key.id;
  assert.match(
    wrong.stdout.text,
    new RegExp(
      `a key mismatch, if the key ID on the server’s "Sealed:" line is not this client's \\(${otherId}\\)`,
    ),
  );
  // A sealed client is told about keys, not that "the server runs sealed".
  assert.doesNotMatch(wrong.stdout.text, /the server runs sealed/);

  const plain = await runCli(['client', '127.0.0.1', port, '--timeout', '0.05', '--attempts', '1']);
  assert.equal(plain.code, 1);
  assert.match(plain.stdout.text, /runs sealed \(--key-file\)/);

  ac.abort();
  assert.equal((await server).code, 0);
  const summary = stdout.events().find((e) => e.event === 'summary');
  assert.equal(summary?.replied, 2);
  assert.deepEqual(summary.rejectedBy, {
    'not-sealed': 1,
    malformed: 0,
    'bad-auth': 2,
    'wrong-type': 0,
    stale: 0,
    replay: 0,
    'cache-full': 0,
  });
  const rejected = stdout.events().filter((e) => e.event === 'rejected');
  assert.deepEqual(
    rejected.map((e) => e.reason),
    ['bad-auth', 'bad-auth', 'not-sealed'],
  );
});

test('server --rate-limit: the listening line, the rate-limited events and summary', async (t) => {
  const ac = new AbortController();
  const stdout = new Capture();
  const server = runCli(['server', '127.0.0.1', '0', '--rate-limit', '1', '--rate-burst', '2'], {
    signal: ac.signal,
    stdout,
  });
  t.after(() => ac.abort());
  const m = await until(() => /Listening at 127\.0\.0\.1:(\d+)/.exec(stdout.text) ?? undefined);
  assert.match(stdout.text, /Rate limit: 1 reply\/s per source address, bursts of 2\n/);
  const port = m[1] ?? '';
  for (let i = 0; i < 3; i++)
    await runCli(['client', '127.0.0.1', port, '--attempts', '1', '--timeout', '0.05']);
  ac.abort();
  assert.equal((await server).code, 0);
  assert.match(stdout.text, /Rate limit: no reply to \d+ bytes from 127\.0\.0\.1:\d+/);
  assert.match(stdout.text, /replied to 2, .*1 not answered \(rate limit\)/);
});

test('usage errors for the hardening options: exit 2', async () => {
  for (const argv of [
    ['server', '127.0.0.1', '0', '--window', '10'],
    ['server', '127.0.0.1', '0', '--replay-cache', '10'],
    ['server', '127.0.0.1', '0', '--rate-burst', '10'],
    ['server', '127.0.0.1', '0', '--seed', '1'],
    ['server', '127.0.0.1', '0', '--rate-limit', '0'],
    ['server', '127.0.0.1', '0', '--rate-limit', 'lots'],
    ['server', '127.0.0.1', '0', '--key-file', 'x', '--window', '0'],
    ['client', '127.0.0.1', '5000', '--key-file', 'x', '--id', '99999999999999999999'],
    ['client', '127.0.0.1', '5000', '--key-file', 'x', '--id', '42', '--count', '2'],
  ]) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, `${argv.join(' ')} → ${r.code} ${r.stderr.text}`);
  }
});

test('udplab demo --only sealed: the spoofer and the replay fail; exit 0', async (t) => {
  const dir = await tempDir(t);
  const key = join(dir, 'demo.key');
  await runCli(['keygen', '--out', key]);
  const r = await runCli(['demo', '--only', 'sealed', '--key-file', key, '--json']);
  assert.equal(r.code, 0, r.stdout.text + r.stderr.text);
  const ev = r.stdout.events();
  const checks = ev.filter((e) => e.event === 'check');
  assert.ok(checks.length >= 4);
  assert.ok(checks.every((c) => c.ok === true));
  const keyId = (await readKeyFile(key)).key.id;
  assert.ok(
    ev.some((e) => e.event === 'listening' && e.keyId === keyId),
    'the given key is used',
  );
  assert.ok(ev.some((e) => e.event === 'rejected' && e.reason === 'replay'));
  assert.ok(ev.some((e) => e.event === 'ignored' && e.reason === 'not-sealed'));
  assert.ok(ev.some((e) => e.event === 'retransmission'));
  assert.ok(
    ev.some(
      (e) => e.event === 'note' && /source checks and IDs were not enough/.test(String(e.text)),
    ),
  );
});

test('a sealed server with a full replay cache stays silent to the same key: the client names the full cache, not only a key mismatch', async (t) => {
  const dir = await tempDir(t);
  const key = join(dir, 'a.key');
  await runCli(['keygen', '--out', key]);
  const ac = new AbortController();
  const stdout = new Capture();
  // One entry: the first request fills the cache for the 30 s window (as a bench run fills 65,536).
  const server = runCli(
    ['server', '127.0.0.1', '0', '--key-file', key, '--replay-cache', '1', '--json'],
    { signal: ac.signal, stdout },
  );
  t.after(() => ac.abort());
  const listening = await until(() => stdout.events().find((e) => e.event === 'listening'));
  const port = String(listening.port);
  const first = await runCli(['client', '127.0.0.1', port, '--key-file', key]);
  assert.equal(first.code, 0, first.stdout.text);

  const second = await runCli([
    'client',
    '127.0.0.1',
    port,
    '--key-file',
    key,
    '--timeout',
    '0.05',
    '--attempts',
    '2',
  ]);
  assert.equal(second.code, 1);
  await until(() =>
    stdout.events().find((e) => e.event === 'rejected' && e.reason === 'cache-full'),
  );
  const keyId = (await readKeyFile(key)).key.id;
  assert.equal(listening.keyId, keyId);
  assert.match(
    second.stdout.text,
    new RegExp(
      `Likely causes:\\n {2}- a key mismatch, if the key ID on the server’s "Sealed:" line is not this client's \\(${keyId}\\)[^\\n]*\\n {2}- with the same key: the server’s replay cache is full \\(e\\.g\\. after a udplab bench run; its summary counts cache-full\\): it refuses new requests until entries expire, within twice its --window`,
    ),
  );

  // The library's error says the same.
  const err = await request({
    host: '127.0.0.1',
    port: Number(port),
    key: (await readKeyFile(key)).key,
    timeoutMs: 30,
    attempts: 1,
  }).catch((e: unknown) => e);
  assert.ok(err instanceof GaveUpError);
  assert.equal(err.code, ErrorCodes.TIMEOUT);
  assert.match(err.message, /key mismatch and a full replay cache are both possible causes/);

  ac.abort();
  assert.equal((await server).code, 0);
});
