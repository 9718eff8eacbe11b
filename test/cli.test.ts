import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { resolveHost } from '../src/address.js';
import { createServer, UsageError } from '../src/index.js';
import {
  binPath,
  Capture,
  freePort,
  nextMessage,
  rawSocket,
  runCli,
  spawnUdplab,
  until,
} from './helpers.js';

const ESC = new RegExp(String.fromCharCode(27) + '\\[');
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test('--version, --help, per-command help with examples', async () => {
  const v = await runCli(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout.text, /^\d+\.\d+\.\d+\n$/);
  const h = await runCli(['--help']);
  assert.equal(h.code, 0);
  for (const c of ['demo', 'server', 'client', 'spoof'])
    assert.match(h.stdout.text, new RegExp(`\\b${c}\\b`));
  const ch = await runCli(['client', '--help']);
  assert.equal(ch.code, 0);
  assert.match(ch.stdout.text, /Examples:/);
  assert.match(ch.stdout.text, /3\.1 s/);
  const hc = await runCli(['help', 'server']);
  assert.match(hc.stdout.text, /--drop/);
});

test('usage errors: exit 2, one line pointing to --help, no stack trace', async () => {
  const cases = [
    ['client', '127.0.0.1', '99999'],
    ['client', '127.0.0.1', 'abc'],
    ['client', 'bad host!', '5000'],
    ['client', '127.0.0.1', '5000', '--timeout', 'soon'],
    ['client', '127.0.0.1', '5000', '--id', '12x'],
    ['client', '127.0.0.1', '5000', '--jitter', '1'],
    ['server', '127.0.0.1', '5000', '--drop', '2'],
    ['server', '127.0.0.1'],
    ['server', '127.0.0.1', '-1'],
    ['spoof', '127.0.0.1', '0'],
    ['client', '127.0.0.1', '5000', '--bogus'],
    ['nosuchcommand'],
    ['demo', '--only', 'nope'],
    ['help', 'bogus'],
    ['client', '127.0.0.1:1060'],
    ['bigsend', '127.0.0.1', '1060', '--fill', '\x1b[31m'],
    ['server', '::127.0.0.1', '5000'],
    ['server', '127.0.0.1', '5000', '--key-file', 'k', '--replay-cache', '16777217'],
    ['client', '127.0.0.1', '5000', '--attempts', '99999999999999999999'],
    ['bench', '127.0.0.1', '5000', '--id', '-s', '5'],
  ];
  for (const argv of cases) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, `${argv.join(' ')} → ${r.code} ${r.stderr.text}`);
    const lines = r.stderr.text.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr.text);
    assert.match(lines[0] ?? '', /^udplab: error: .*--help/);
    assert.doesNotMatch(r.stderr.text, /\n\s+at /);
    // Nothing from the arguments reaches the terminal raw (an escape sequence is shown escaped).
    assert.ok(!r.stderr.text.includes('\x1b'), r.stderr.text);
  }
  const help = await runCli(['help', 'bogus']);
  assert.match(help.stderr.text, /^udplab: error: unknown command 'bogus'; the commands: demo, /);
  const typo = await runCli(['servr', '127.0.0.1', '1060']);
  assert.equal(typo.code, 2);
  assert.match(
    typo.stderr.text,
    /unknown command 'servr' \(did you mean server\?\); the commands: /,
  );
  assert.equal(help.stdout.text, '', 'no page of help for an unknown command');
  const swallowed = await runCli(['client', '127.0.0.1', '--id', '47705']);
  assert.equal(swallowed.code, 2);
  assert.match(
    swallowed.stderr.text,
    /missing required argument 'port': --id took 47705 as its value; put --id after HOST PORT, or write --id=ID/,
  );
  const joined = await runCli(['client', '[::1]:1060']);
  assert.match(joined.stderr.text, /write HOST and PORT as two arguments \(::1 1060\)/);
  const small = await runCli(['bench', '127.0.0.1', '5000', '--id', '-s', '5']);
  assert.match(
    small.stderr.text,
    /size \(--size\) must be an integer from 12 to 65507 bytes with --id \(room for a 10-digit ID and "; "\)/,
  );
  const huge = await runCli(['server', '127.0.0.1', '5000', '--replay-cache', '16777217']);
  assert.match(huge.stderr.text, /expected a whole number from 1 to 16,777,216/);
  const fill = await runCli(['bigsend', '127.0.0.1', '1060', '--fill', '\x1b[31m']);
  assert.match(fill.stderr.text, /got '\\x1b\[31m'/);
  // Invisible format characters in an argument are shown too (U+200B, U+202E, a tag character).
  const hidden = await runCli(['client', 'a\u200bb\u202ec\u{e0041}', '1060']);
  assert.equal(hidden.code, 2);
  assert.match(hidden.stderr.text, /'a\\u200bb\\u202ec\\u\{e0041\}'/);
});

test('an IPv4-compatible IPv6 address (::127.0.0.1 is not loopback) is refused before any socket', async () => {
  // resolveHost is what every command's host goes through; only it is called here, so no
  // datagram can leave even if the refusal broke (::7f00:1 is routed as IPv6, off this machine).
  const v4s = {
    '::127.0.0.1': '127.0.0.1',
    '[::7f00:1]': '127.0.0.1',
    '0:0:0:0:0:0:a00:1': '10.0.0.1',
  };
  for (const [typed, v4] of Object.entries(v4s)) {
    await assert.rejects(resolveHost(typed), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.code, 'UDPLAB_ERR_USAGE');
      const d = v4.replaceAll('.', '\\.');
      assert.match(
        err.message,
        new RegExp(`routed as IPv6, not to ${d}: for ${d}, write ${d}, or ::ffff:${d} `),
      );
      return true;
    });
  }
  await assert.rejects(resolveHost('::ffff:0:127.0.0.1'), {
    message:
      "'::ffff:0:127.0.0.1' is ::ffff:0:7f00:1, an IPv4-translated IPv6 address (RFC 2765, obsolete), which is routed as IPv6, not to 127.0.0.1: for 127.0.0.1, write 127.0.0.1, or ::ffff:127.0.0.1 for a dual-stack socket",
  });
  // In 0.0.0.0/8 ("this network"), which nothing can be sent to, no spelling is suggested.
  await assert.rejects(resolveHost('::0.0.0.2'), {
    message:
      "'::0.0.0.2' is ::2, an IPv4-compatible IPv6 address (deprecated, RFC 4291), which is routed as IPv6, not to 0.0.0.2",
  });
  for (const ok of ['::1', '::', '::ffff:127.0.0.1', 'fe80::1%lo', '::1:0:0:1', '2001:db8::1'])
    assert.equal((await resolveHost(ok)).family, 'udp6', ok);
  const r = await runCli(['server', '::127.0.0.1', '5000']);
  assert.match(r.stderr.text, /'::127\.0\.0\.1' is ::7f00:1, an IPv4-compatible IPv6 address/);
});

test('a numeric zone is named by its interface (libuv reads only names); 0 and an unknown index stay', async (t) => {
  // Only resolveHost: nothing is sent. This machine's own interfaces give the indexes.
  const { readdir, readFile } = await import('node:fs/promises');
  const names = await readdir('/sys/class/net').catch(() => [] as string[]);
  if (names.length === 0) {
    t.skip('no /sys/class/net here');
    return;
  }
  for (const name of names) {
    const index = (await readFile(`/sys/class/net/${name}/ifindex`, 'latin1')).trim();
    assert.equal((await resolveHost(`fe80::1%${index}`)).address, `fe80::1%${name}`);
    assert.equal((await resolveHost(`[FE80::2%${name}]`)).address, `FE80::2%${name}`);
  }
  assert.equal((await resolveHost('fe80::1%0')).address, 'fe80::1%0', 'zone 0 is no zone');
  assert.equal((await resolveHost('fe80::1%999999')).address, 'fe80::1%999999');
});

test('server: cannot bind → exit 1 with a one-line reason', async (t) => {
  const s = await createServer({ host: '127.0.0.1' });
  t.after(() => s.close());
  const r = await runCli(['server', '127.0.0.1', String(s.address.port)]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr.text,
    `udplab: error: cannot bind 127.0.0.1:${s.address.port}: the port is already in use by another program\n`,
  );
});

test('server --json: listening, message, replied, summary (NDJSON, ISO times)', async (t) => {
  const ac = new AbortController();
  const peer = await rawSocket();
  t.after(() => peer.close());
  const stdout = new Capture();
  const run = runCli(['server', '127.0.0.1', '0', '--json'], { signal: ac.signal, stdout });
  const listening = await until(() => stdout.events().find((e) => e.event === 'listening'));
  assert.equal(listening.address, '127.0.0.1');
  assert.equal(listening.family, 'IPv4');
  const port = Number(listening.port);
  peer.send('5; ping', port, '127.0.0.1');
  assert.equal(
    (await nextMessage(peer)).data.toString(),
    '5; I received from you a message of 7 bytes',
  );
  await until(() => stdout.events().find((e) => e.event === 'replied'));
  ac.abort();
  assert.equal((await run).code, 0);
  const ev = stdout.events();
  assert.deepEqual(
    ev.map((e) => e.event),
    ['listening', 'message', 'replied', 'summary'],
  );
  for (const e of ev) assert.match(String(e.time), ISO);
  assert.deepEqual(ev[1], {
    event: 'message',
    time: ev[1]?.time,
    from: { address: '127.0.0.1', port: peer.address().port },
    bytes: 7,
    text: '5; ping',
    id: '5',
  });
  assert.deepEqual(ev[2]?.to, { address: '127.0.0.1', port: peer.address().port });
  assert.equal(ev[2]?.bytes, 43);
  assert.equal(ev[3]?.received, 1);
  assert.equal(ev[3]?.replied, 1);
});

test('client --json against a server: bound, sent, received; exit 0', async (t) => {
  const s = await createServer({ host: '127.0.0.1' });
  t.after(() => s.close());
  const r = await runCli([
    'client',
    '127.0.0.1',
    String(s.address.port),
    '--json',
    '--id',
    '77',
    '-m',
    'hi',
  ]);
  assert.equal(r.code, 0, r.stderr.text);
  const ev = r.stdout.events();
  assert.deepEqual(
    ev.map((e) => e.event),
    ['bound', 'sent', 'received'],
  );
  for (const e of ev) assert.match(String(e.time), ISO);
  assert.deepEqual(ev[1]?.to, { address: '127.0.0.1', port: s.address.port });
  assert.equal(ev[1]?.bytes, 6);
  assert.equal(ev[1]?.id, '77');
  assert.equal(ev[2]?.text, 'I received from you a message of 6 bytes');
  assert.equal(ev[2]?.id, '77');
  assert.equal(typeof ev[2]?.rttMs, 'number');
});

test('client with no server: gave-up, exit 1, the lab message and likely causes', async () => {
  const port = await freePort();
  const r = await runCli([
    'client',
    '127.0.0.1',
    String(port),
    '--timeout',
    '0.01',
    '--max-delay',
    '0.02',
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stdout.text, /Cannot receive data from server: no reply after 2 attempts/);
  assert.match(
    r.stdout.text,
    /Likely causes:\n {2}- nothing listens at that address and port.*\n {2}- the server is bound to another interface of that machine/,
  );
  assert.match(r.stdout.text, /Port unreachable/);
  assert.doesNotMatch(
    r.stdout.text,
    /lost on the way|runs sealed/,
    'port unreachable: nothing listens',
  );
  const j = await runCli([
    'client',
    '127.0.0.1',
    String(port),
    '--json',
    '--timeout',
    '0.01',
    '--attempts',
    '1',
  ]);
  assert.equal(j.code, 1);
  const last = j.stdout.events().at(-1);
  assert.equal(last?.event, 'gave-up');
  assert.equal(last?.reason, 'refused');
  assert.equal(last?.attempts, 1);
});

test('client --count: ping-like summary', async (t) => {
  const s = await createServer({ host: '127.0.0.1' });
  t.after(() => s.close());
  const r = await runCli(['client', '127.0.0.1', String(s.address.port), '-c', '3', '-i', '0']);
  assert.equal(r.code, 0);
  assert.match(
    r.stdout.text,
    /3 requests sent, 3 answered, 0 failed, 0\.0% loss, 0 retransmissions/,
  );
  assert.match(r.stdout.text, /rtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms/);
  const j = await runCli([
    'client',
    '127.0.0.1',
    String(s.address.port),
    '-c',
    '2',
    '-i',
    '0',
    '--json',
  ]);
  const summary = j.stdout.events().at(-1);
  assert.equal(summary?.event, 'summary');
  assert.equal(summary?.answered, 2);
});

for (const host of ['127.0.0.1', '::1']) {
  test(`spoof --json to ${host}: sent {to, from, bytes}, from as the receiver sees it`, async (t) => {
    const target = await rawSocket(host === '::1' ? 'udp6' : 'udp4');
    t.after(() => target.close());
    const got = nextMessage(target);
    const r = await runCli(['spoof', host, String(target.address().port), '--json']);
    assert.equal(r.code, 0);
    const m = await got;
    assert.equal(m.data.toString(), "I'm fake");
    const [e] = r.stdout.events();
    assert.equal(e?.event, 'sent');
    assert.deepEqual(e?.to, { address: host, port: target.address().port });
    // Not the wildcard 0.0.0.0 of an unbound socket: the address and port the datagram came from.
    assert.deepEqual(e?.from, { address: m.rinfo.address, port: m.rinfo.port });
    assert.equal(e?.bytes, 8);
  });
}

test('the real process: server prints per datagram, SIGINT prints the summary and exits 0', async (t) => {
  const p = spawnUdplab(['server', '127.0.0.1', '0']);
  t.after(() => p.child.kill());
  const m = await p.waitFor(/Listening at 127\.0\.0\.1:(\d+)/);
  const port = Number(m[1]);
  const peer = await rawSocket();
  t.after(() => peer.close());
  peer.send('hello there', port, '127.0.0.1');
  assert.equal(
    (await nextMessage(peer)).data.toString(),
    'I received from you a message of 11 bytes',
  );
  await p.waitFor(/The client at 127\.0\.0\.1:\d+ says "hello there" \(11 bytes\)/);
  p.child.kill('SIGINT');
  assert.equal(await p.exited, 0);
  assert.match(p.stdout(), /Received 1 datagram, replied to 1, dropped 0/);
  assert.equal(p.stderr(), '');
});

test('the real process: --quiet prints only the start line and the summary; SIGTERM exits 0', async (t) => {
  const p = spawnUdplab(['server', '127.0.0.1', '0', '--quiet', '--json']);
  t.after(() => p.child.kill());
  const m = await p.waitFor(/"port":(\d+)/);
  const peer = await rawSocket();
  t.after(() => peer.close());
  for (let i = 0; i < 3; i++) {
    peer.send('x', Number(m[1]), '127.0.0.1');
    await nextMessage(peer);
  }
  p.child.kill('SIGTERM');
  assert.equal(await p.exited, 0);
  const events = p
    .stdout()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    events.map((e) => e.event),
    ['listening', 'summary'],
  );
  assert.equal(events[1]?.received, 3);
  assert.equal(events[0]?.family, 'IPv4');
});

test('colour only on a TTY and never with NO_COLOR', async (t) => {
  const s = await createServer({ host: '127.0.0.1' });
  t.after(() => s.close());
  const plain = await runCli(['client', '127.0.0.1', String(s.address.port)]);
  assert.doesNotMatch(plain.stdout.text, ESC);
  const forced = await runCli(['client', '127.0.0.1', String(s.address.port)], {
    env: { FORCE_COLOR: '1' },
  });
  assert.match(forced.stdout.text, ESC);
  const no = await runCli(['client', '127.0.0.1', String(s.address.port)], {
    env: { FORCE_COLOR: '1', NO_COLOR: '1' },
  });
  assert.doesNotMatch(no.stdout.text, ESC);
});

test('the real process: Ctrl-C during --count prints the summary so far', async (t) => {
  const s = await createServer({ host: '127.0.0.1' });
  t.after(() => s.close());
  const p = spawnUdplab([
    'client',
    '127.0.0.1',
    String(s.address.port),
    '-c',
    '1000',
    '-i',
    '0.02',
  ]);
  t.after(() => p.child.kill());
  await p.waitFor(/replied[^\n]*\n[\s\S]*replied[^\n]*\n[\s\S]*replied/);
  p.child.kill('SIGINT');
  assert.equal(await p.exited, 0);
  const m = /(\d+) requests sent, (\d+) answered, 0 failed/.exec(p.stdout());
  assert.ok(m, p.stdout());
  assert.ok(Number(m[1]) >= 3 && Number(m[1]) < 1000);
});

test('spoof: a message too big for UDP fails up front with UDPLAB_ERR_TOO_BIG, nothing sent', async () => {
  const r = await runCli(['spoof', '127.0.0.1', '9', '--json', '-m', 'x'.repeat(70000)]);
  assert.equal(r.code, 1);
  assert.deepEqual(
    r.stdout.events().map((e) => [e.event, e.code]),
    [['error', 'UDPLAB_ERR_TOO_BIG']],
  );
  assert.match(
    r.stderr.text,
    /^udplab: error: message of 70,000 bytes is too big for one UDP datagram \(at most 65,507 bytes over IPv4\)\n$/,
  );
});

test('keygen: an empty path or a directory is a usage error; a missing folder a plain failure', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(`${tmpdir()}/udplab-keygen-`);
  try {
    const empty = await runCli(['keygen', '--out', '']);
    assert.equal(empty.code, 2);
    const isDir = await runCli(['keygen', '--out', dir, '--force']);
    assert.equal(isDir.code, 2);
    assert.match(isDir.stderr.text, /is a directory/);
    const missing = await runCli(['keygen', '--out', `${dir}/no/such/k`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr.text, /its folder does not exist\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('client: --attempts ends the schedule with its own reason; too big refused before "sent"; --id before HOST hinted', async () => {
  const port = await freePort();
  const r = await runCli([
    'client',
    '127.0.0.1',
    String(port),
    '--attempts',
    '2',
    '--timeout',
    '0.01',
    '--json',
  ]);
  const last = r.stdout
    .events()
    .filter((e) => e.event === 'timeout')
    .at(-1);
  assert.equal(last?.lastBecause, 'attempts');
  const h = await runCli([
    'client',
    '127.0.0.1',
    String(port),
    '--attempts',
    '1',
    '--timeout',
    '0.01',
  ]);
  assert.match(h.stdout.text, /the last of the attempts allowed \(--attempts 1\)/);
  const m = await runCli([
    'client',
    '127.0.0.1',
    String(port),
    '--timeout',
    '0.01',
    '--max-delay',
    '0.01',
    '--json',
  ]);
  assert.equal(
    m.stdout
      .events()
      .filter((e) => e.event === 'timeout')
      .at(-1)?.lastBecause,
    'max-delay',
  );

  const big = await runCli([
    'client',
    '127.0.0.1',
    String(port),
    '--json',
    '-m',
    'x'.repeat(65508),
  ]);
  assert.equal(big.code, 1);
  assert.deepEqual(
    big.stdout.events().map((e) => e.event),
    ['error'],
  );
  assert.match(big.stderr.text, /at most 65,507 bytes fit in one UDP datagram over IPv4/);

  const id = await runCli(['client', '--id', '127.0.0.1', '1060']);
  assert.equal(id.code, 2);
  assert.match(id.stderr.text, /put --id after HOST PORT.*\(see 'udplab client --help'\)/);
});

test('client: Ctrl-C before the reply says so (exit 1); during --count the request in flight is counted', async () => {
  const silent = await rawSocket();
  try {
    const ac = new AbortController();
    const stdout = new Capture();
    const run = runCli(
      ['client', '127.0.0.1', String(silent.address().port), '--timeout', '60', '--json'],
      { signal: ac.signal, stdout },
    );
    await nextMessage(silent);
    ac.abort();
    const r = await run;
    assert.equal(r.code, 1);
    assert.deepEqual(stdout.events().at(-1)?.code, 'UDPLAB_ERR_ABORTED');
    assert.equal(r.stderr.text, 'udplab: error: interrupted before a reply came\n');

    const ac2 = new AbortController();
    const out2 = new Capture();
    const run2 = runCli(
      [
        'client',
        '127.0.0.1',
        String(silent.address().port),
        '--timeout',
        '0.02',
        '-c',
        '5',
        '--json',
      ],
      {
        signal: ac2.signal,
        stdout: out2,
      },
    );
    await until(() =>
      out2.events().filter((e) => e.event === 'sent').length >= 2 ? true : undefined,
    );
    ac2.abort();
    await run2;
    const summary = out2.events().at(-1);
    assert.equal(summary?.event, 'summary');
    assert.equal(summary?.sent, 1);
    assert.equal(summary?.failed, 1);
    assert.ok(Number(summary?.retransmissions) >= 1);
  } finally {
    silent.close();
  }
});

test('server: a long payload is cut in the human line (whole in JSON); bad library ports are RangeErrors', async (t) => {
  const { renderServer } = await import('../src/cli/server.js');
  const pc = (await import('picocolors')).default.createColors(false);
  const line = renderServer(
    {
      event: 'message',
      time: '',
      from: { address: '127.0.0.1', port: 1 },
      bytes: 3000,
      text: 'y'.repeat(3000),
    } as never,
    pc,
  );
  assert.ok(line !== undefined && line.length < 300, line);
  assert.match(line, /y…" \(3000 bytes\)$/);
  const one = renderServer(
    { event: 'message', time: '', from: { address: '::1', port: 1 }, bytes: 1, text: 'y' } as never,
    pc,
  );
  assert.equal(one, 'The client at [::1]:1 says "y" (1 byte)');
  for (const port of [70000, -1, 1.5]) {
    await assert.rejects(createServer({ host: '127.0.0.1', port }), RangeError);
  }
  const s = await createServer({ host: '127.0.0.1' });
  t.after(() => s.close());
});

test('usage errors with --json: an error event on stdout too, on both client paths and for commander’s own', async () => {
  for (const argv of [
    ['client', '127.0.0.1', '65536', '--json'], // the fast path
    ['client', '127.0.0.1', '65536', '--json', '-t', '1'], // the commander path
    ['bench', '127.0.0.1', '65536', '--json'],
    ['server', '127.0.0.1', '1', '--bogus', '--json'],
  ]) {
    const { code, stdout, stderr } = await runCli(argv);
    assert.equal(code, 2, argv.join(' '));
    const events = stdout.events();
    assert.equal(events.length, 1, `${argv.join(' ')}: ${stdout.text}`);
    assert.equal(events[0]?.event, 'error');
    assert.equal(events[0]?.code, 'UDPLAB_ERR_USAGE');
    assert.match(stderr.text, /^udplab: error: .+ \(see 'udplab \w+ --help'\)\n$/);
  }
  // Without --json (or with it after `--`), stdout stays empty.
  const plain = await runCli(['client', '127.0.0.1', '65536']);
  assert.equal(plain.stdout.text, '');
});

test(
  'a closed stdout pipe (`server --json | head -1`) stops the server as Ctrl-C does: exit 0, no trace',
  { timeout: 10_000 },
  async (t) => {
    const child = spawn(process.execPath, [binPath, 'server', '127.0.0.1', '0', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => child.kill()); // a failure must not leave the server running
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const first = await new Promise<string>((resolve) => {
      child.stdout.once('data', (d: Buffer) => resolve(d.toString().split('\n')[0] ?? ''));
    });
    child.stdout.destroy(); // what `head -1` does after its line
    const { port } = JSON.parse(first) as { port: number };
    const peer = await rawSocket();
    try {
      // Each datagram makes the server write a line, which meets the closed pipe (EPIPE).
      for (let i = 0; i < 20 && child.exitCode === null; i++) {
        peer.send('x', port, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      peer.close();
    }
    assert.equal(await exited, 0);
    assert.doesNotMatch(stderr, /\n\s+at /);
  },
);

test('server: the listening line says what the bind reaches, an IPv4-mapped address as the IPv4 one it maps (::ffff:0.0.0.0 = all IPv4 interfaces)', async () => {
  const { renderServer } = await import('../src/cli/server.js');
  const pc = (await import('picocolors')).default.createColors(false);
  const hint = (address: string): string | undefined =>
    renderServer(
      { event: 'listening', time: '', address, port: 1, family: 'IPv6', backend: 'dgram' } as never,
      pc,
    );
  for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1'])
    assert.match(hint(a) ?? '', /loopback only/, a);
  for (const a of ['::ffff:7f00:2', '0:0:0:0:0:0:0:1'])
    assert.match(hint(a) ?? '', /loopback only/, a);
  // An IPv4-mapped address binds the IPv4 one it maps: ::ffff:0.0.0.0 is the IPv4 wildcard.
  for (const a of ['0.0.0.0', '::ffff:0.0.0.0', '::ffff:0:0'])
    assert.match(hint(a) ?? '', /all IPv4 interfaces: reachable at any/, a);
  for (const a of ['::', '0:0:0:0:0:0:0:0'])
    assert.match(hint(a) ?? '', /all interfaces, IPv6 and IPv4/, a);
  for (const a of ['10.1.2.3', '::ffff:10.1.2.3', '2001:db8::1'])
    assert.match(hint(a) ?? '', /this interface only/, a);
});
