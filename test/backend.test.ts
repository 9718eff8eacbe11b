/**
 * The socket backends of `udplab server` (docs/native.md): the choice and its fallback, the same
 * output byte for byte from both, IPv6, many clients, replies that would block, refused replies,
 * and closing. test/server.test.ts runs the whole server suite against each backend as well.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type dgram from 'node:dgram';
import { test } from 'node:test';
import { loadNativeAddon, openNativeBackend } from '../src/backend/native.js';
import { openBackend } from '../src/backend/select.js';
import type { BackendName, BackendOptions, SocketBackend } from '../src/backend/types.js';
import { ErrorCodes } from '../src/index.js';
import type { Datagram, Reply } from '../src/server-events.js';
import { connectOptions, nativeSkipReason, serverBackends } from './backends.js';
import { Capture, nextMessage, rawSocket, runCli, spawnUdplab, until } from './helpers.js';

const native = { skip: nativeSkipReason ?? false };

type After = { after: (fn: () => unknown) => void };

/** Starts `udplab server ARGV` in-process; `stop()` aborts it and returns the exit code. A failing
 * test stops it too (t.after), so that no server outlives its test. */
function serve(t: After, argv: string[]): { stdout: Capture; stop: () => Promise<number> } {
  const ac = new AbortController();
  const stdout = new Capture();
  const run = runCli(['server', ...argv], { signal: ac.signal, stdout });
  const stop = async (): Promise<number> => {
    ac.abort();
    return (await run).code;
  };
  t.after(stop);
  return { stdout, stop };
}
const MISSING = { UDPLAB_NATIVE_ADDON: '/nonexistent/udplab_mmsg.node' };

test('--backend dgram is obeyed; auto takes native where it loads; bad names are usage errors', async (t) => {
  for (const [choice, expected] of [
    ['dgram', 'dgram'],
    ['auto', nativeSkipReason === undefined ? 'native' : 'dgram'],
  ] as const) {
    const { stdout, stop } = serve(t, ['127.0.0.1', '0', '--json', '--backend', choice]);
    const listening = await until(() => stdout.events().find((e) => e.event === 'listening'));
    assert.equal(listening.backend, expected, choice);
    assert.equal(await stop(), 0);
  }
  const bad = await runCli(['server', '127.0.0.1', '0', '--backend', 'fast']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr.text, /expected one of auto, native, dgram/);
});

test('a missing addon: the loader says why, auto falls back to dgram, --backend native fails with UDPLAB_ERR_BACKEND', async (t) => {
  const load = loadNativeAddon(MISSING.UDPLAB_NATIVE_ADDON);
  assert.ok('reason' in load);
  // A path named by the caller (or by the environment, as in CI's second pass) that is not there
  // is that file missing, not an addon the install did not build.
  assert.match(
    load.reason,
    process.platform === 'linux'
      ? /^\/nonexistent\/udplab_mmsg\.node(, named by UDPLAB_NATIVE_ADDON,)? does not exist$/
      : /Linux-only/,
  );

  const auto = spawnUdplab(['server', '127.0.0.1', '0', '--json'], MISSING);
  t.after(() => auto.child.kill());
  const m = await auto.waitFor(/"event":"listening".*"port":(\d+).*"backend":"dgram"/);
  const peer = await rawSocket();
  t.after(() => peer.close());
  peer.send('still here', Number(m[1]), '127.0.0.1');
  assert.equal(
    (await nextMessage(peer)).data.toString(),
    'I received from you a message of 10 bytes',
  );
  auto.child.kill('SIGINT');
  assert.equal(await auto.exited, 0);

  const forced = spawnUdplab(
    ['server', '127.0.0.1', '0', '--backend', 'native', '--json'],
    MISSING,
  );
  assert.equal(await forced.exited, 1);
  const error = JSON.parse(forced.stdout().trim()) as { code: string };
  assert.equal(error.code, ErrorCodes.BACKEND);
  assert.match(forced.stderr(), /^udplab: error: the native backend is not available: .+\n$/);
});

/**
 * Runs `udplab server` in-process on one backend, sends `payloads` one at a time from `peer`
 * (waiting until the server has printed each), stops it, and returns what it printed with its
 * own port written PORT (the only thing that may differ between two runs; JSON times and the
 * `backend` field are blanked too).
 */
async function transcript(
  t: After,
  backend: BackendName,
  peer: dgram.Socket,
  payloads: readonly Buffer[],
  extra: string[],
): Promise<string> {
  const json = extra.includes('--json');
  const { stdout, stop } = serve(t, ['127.0.0.1', '0', '--backend', backend, ...extra]);
  const port = Number(
    await until(() => /(?:Listening at 127\.0\.0\.1:|"port":)(\d+)/.exec(stdout.text)?.[1]),
  );
  const seen = (): number =>
    stdout.text.split('\n').filter((l) => (json ? l.includes('"message"') : l.includes(' says ')))
      .length;
  for (const [i, p] of payloads.entries()) {
    peer.send(p, port, '127.0.0.1');
    await until(() => (seen() > i ? true : undefined));
  }
  assert.equal(await stop(), 0);
  return stdout.text
    .replaceAll(`:${port} `, ':PORT ')
    .replaceAll(`"port":${port},`, '"port":PORT,')
    .replace(/"time":"[^"]+"/g, '"time":T')
    .replace(/"backend":"[a-z]+"/g, '"backend":B');
}

test(
  'native and dgram print the same output, byte for byte (human, --json, --drop --seed, --quiet)',
  native,
  async (t) => {
    const peer = await rawSocket();
    t.after(() => peer.close());
    const payloads = [
      'hello',
      '1234; with an id',
      '',
      '\x00\xff\x80',
      '\x1b[2J\n',
      'ünïcödé “quotes” \\ back',
      'x'.repeat(1400),
      '18446744073709551615; big id',
    ].map((s) => Buffer.from(s, s.startsWith('\x00') ? 'latin1' : 'utf8'));
    for (const extra of [[], ['--json'], ['--drop', '0.5', '--seed', '7'], ['--quiet']]) {
      const a = await transcript(
        t,
        'dgram',
        peer,
        extra.includes('--quiet') ? [] : payloads,
        extra,
      );
      const b = await transcript(
        t,
        'native',
        peer,
        extra.includes('--quiet') ? [] : payloads,
        extra,
      );
      assert.equal(b, a, extra.join(' '));
      if (!extra.includes('--quiet')) assert.ok(a.split('\n').length > payloads.length, a);
    }
  },
);

test(
  'native: bursts of many datagrams (several batches) give the same lines in the same order',
  native,
  async (t) => {
    const peer = await rawSocket();
    t.after(() => peer.close());
    const out: Record<string, string> = {};
    for (const backend of ['dgram', 'native'] as const) {
      const { stdout, stop } = serve(t, ['127.0.0.1', '0', '--backend', backend]);
      const port = Number(await until(() => /127\.0\.0\.1:(\d+)/.exec(stdout.text)?.[1]));
      let replies = 0;
      peer.on('message', () => replies++);
      // 4 bursts of 100: well inside the default receive buffer, so nothing is lost, and more
      // than one recvmmsg batch (64) each.
      for (let burst = 0; burst < 4; burst++) {
        for (let i = 0; i < 100; i++) peer.send(`${burst * 100 + i}; payload`, port, '127.0.0.1');
        await until(() => (replies >= (burst + 1) * 100 ? true : undefined));
      }
      peer.removeAllListeners('message');
      await stop();
      out[backend] = stdout.text.replaceAll(`:${port} `, ':PORT ');
    }
    assert.equal(out.native, out.dgram);
    assert.match(out.native ?? '', /Received 400 datagrams, replied to 400, dropped 0\n$/);
  },
);

test('native: many clients at once, each answered, IPv4 and IPv6', native, async (t) => {
  for (const host of ['127.0.0.1', '::1']) {
    const type = host === '::1' ? 'udp6' : 'udp4';
    const { stdout, stop } = serve(t, [host, '0', '--quiet', '--json', '--backend', 'native']);
    const listening = await until(() => stdout.events().find((e) => e.event === 'listening'));
    assert.equal(listening.backend, 'native');
    const port = Number(listening.port);
    const peers = await Promise.all(Array.from({ length: 40 }, () => rawSocket(type)));
    t.after(() => peers.forEach((p) => p.close()));
    // Each client keeps one request in flight, 25 times: 40 in flight, 1,000 in all.
    await Promise.all(
      peers.map(async (p, c) => {
        for (let i = 0; i < 25; i++) {
          const reply = nextMessage(p);
          p.send(`${c * 100 + i}; ${'y'.repeat(c)}`, port, host);
          assert.equal(
            (await reply).data.toString(),
            `${c * 100 + i}; I received from you a message of ${`${c * 100 + i}; `.length + c} bytes`,
          );
        }
      }),
    );
    await stop();
    const summary = stdout.events().find((e) => e.event === 'summary');
    assert.deepEqual([summary?.received, summary?.replied, summary?.sendFailed], [1000, 1000, 0]);
  }
});

test(
  'native: a dual-stack "::" server sees IPv4 senders as ::ffff:a.b.c.d, as dgram does',
  native,
  async (t) => {
    const peer = await rawSocket();
    t.after(() => peer.close());
    const seen: string[] = [];
    for (const backend of ['dgram', 'native'] as const) {
      const { stdout, stop } = serve(t, ['::', '0', '--json', '--backend', backend]);
      const port = Number(
        (await until(() => stdout.events().find((e) => e.event === 'listening'))).port,
      );
      peer.send('v4 to v6', port, '127.0.0.1');
      assert.equal(
        (await nextMessage(peer)).data.toString(),
        'I received from you a message of 8 bytes',
      );
      const from = (await until(() => stdout.events().find((e) => e.event === 'message'))).from as {
        address: string;
      };
      seen.push(from.address);
      await stop();
    }
    assert.deepEqual(seen, ['::ffff:127.0.0.1', '::ffff:127.0.0.1']);
  },
);

/** Opens a backend directly with a scripted batch handler. */
async function openScripted(
  backend: BackendName,
  onBatch: BackendOptions['onBatch'],
  extra: Partial<BackendOptions> = {},
): Promise<{ b: SocketBackend; failed: () => number; seen: () => number }> {
  let failed = 0;
  let seen = 0;
  const b = await openBackend(backend, {
    family: 'udp4',
    address: '127.0.0.1',
    port: 0,
    sendQueueLimit: 1024,
    onBatch: (batch, replies) => {
      seen += batch.length;
      onBatch(batch, replies);
    },
    onSendFailed: (n) => (failed += n),
    onError: (err) => assert.fail(err),
    ...extra,
  });
  assert.equal(b.name, backend);
  return { b, failed: () => failed, seen: () => seen };
}

/**
 * Opens the native backend directly, for its test hooks (setBlocked, sendCounts): IPv4 loopback,
 * port 0, a send queue of 1,024, and any failed reply or socket error failing the test, unless
 * `options` says otherwise.
 */
function openNative(
  options: Pick<BackendOptions, 'onBatch'> & Partial<BackendOptions>,
): ReturnType<typeof openNativeBackend> {
  const load = loadNativeAddon();
  assert.ok('addon' in load, 'reason' in load ? load.reason : '');
  return openNativeBackend(load.addon, {
    family: 'udp4',
    address: '127.0.0.1',
    port: 0,
    sendQueueLimit: 1024,
    onSendFailed: () => assert.fail('a reply failed'),
    onError: (err) => assert.fail(err),
    ...options,
  });
}

for (const backend of serverBackends()) {
  test(`[${backend}] replies go to any endpoint; a reply the kernel refuses (EMSGSIZE) is counted`, async (t) => {
    const other = await rawSocket();
    t.after(() => other.close());
    const elsewhere = { address: '127.0.0.1', port: other.address().port };
    const { b, failed } = await openScripted(
      backend,
      (batch: readonly Datagram[], replies: Reply[]) => {
        for (const d of batch) {
          replies.push({ data: Buffer.alloc(65508), to: d.from }); // 1 byte over the IPv4 limit
          replies.push({ data: Buffer.from(`forwarded ${d.data.length}`), to: { ...elsewhere } });
        }
      },
    );
    t.after(() => b.close());
    const peer = await rawSocket();
    t.after(() => peer.close());
    peer.send('abc', b.address.port, '127.0.0.1');
    assert.equal((await nextMessage(other)).data.toString(), 'forwarded 3');
    await until(() => (failed() === 1 ? true : undefined));
    await assert.rejects(nextMessage(peer, 50));
  });
}

test(
  'native: replies that would block wait in order up to the bound; the rest are dropped and counted',
  native,
  async (t) => {
    let failed = 0;
    let seen = 0;
    const b = openNative({
      sendQueueLimit: 3,
      onBatch: (batch, replies) => {
        for (const d of batch) replies.push({ data: Buffer.from(d.data), to: d.from });
        seen += batch.length;
      },
      onSendFailed: (n) => (failed += n),
    });
    t.after(() => b.close());
    const peer = await rawSocket();
    t.after(() => peer.close());
    const got: string[] = [];
    peer.on('message', (d) => got.push(d.toString()));
    b.setBlocked(true); // fault injection: every sendmmsg now "returns EAGAIN"
    for (const text of ['r1', 'r2', 'r3', 'r4', 'r5']) peer.send(text, b.address.port, '127.0.0.1');
    await until(() => (seen === 5 ? true : undefined));
    assert.equal(failed, 2);
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(got, []);
    b.setBlocked(false); // writable again: the queue drains in order
    await until(() => (got.length === 3 ? true : undefined));
    assert.deepEqual(got, ['r1', 'r2', 'r3']);

    // Replies still queued when the server closes are dropped and counted, not lost silently.
    b.setBlocked(true);
    for (const text of ['q1', 'q2']) peer.send(text, b.address.port, '127.0.0.1');
    await until(() => (seen === 7 ? true : undefined));
    await b.close();
    assert.equal(failed, 4);
  },
);

test(
  'native: closing stops the poll handle, so a process with a closed server exits by itself',
  native,
  () => {
    // If close() left the uv_poll_t active, the event loop would never end and this would time out.
    const script = `
    const { createServer } = await import(${JSON.stringify(new URL('../src/index.js', import.meta.url).href)});
    const dgram = await import('node:dgram');
    for (let i = 0; i < 50; i++) {
      const s = await createServer({ host: '127.0.0.1', backend: 'native' });
      const c = dgram.createSocket('udp4');
      await new Promise((r) => { c.once('message', r); c.send('x', s.address.port, '127.0.0.1'); });
      c.close();
      await s.close();
    }
    console.log('closed 50');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'closed 50\n');
  },
);

test(
  'native: a burst arrives in batches of up to 64 datagrams, one handler call per batch, and the socket is heard after it',
  native,
  async (t) => {
    const sizes: number[] = [];
    const { b, seen } = await openScripted('native', (batch, replies) => {
      sizes.push(batch.length);
      for (const d of batch) replies.push({ data: Buffer.from(d.data), to: d.from });
    });
    t.after(() => b.close());
    const peer = await rawSocket();
    t.after(() => peer.close());
    let replies = 0;
    peer.on('message', () => replies++);
    // Sent before the server's next turn of the event loop, so they queue up in its socket.
    for (let i = 0; i < 150; i++) peer.send(String(i), b.address.port, '127.0.0.1');
    await until(() => (replies === 150 ? true : undefined));
    assert.equal(seen(), 150);
    // A batch of 16 or more takes the socket out of epoll while it is answered (udplab_mmsg.c,
    // UNWATCH_AT): this burst must have done so, and the socket must be watched again after it.
    assert.ok(Math.max(...sizes) >= 16, `batch sizes ${sizes.join(',')}`);
    assert.ok(Math.max(...sizes) <= 64, `batch sizes ${sizes.join(',')}`);
    for (let round = 1; round <= 3; round++) {
      await new Promise((r) => setTimeout(r, 20)); // the loop goes back to epoll_wait, idle
      peer.send('later', b.address.port, '127.0.0.1');
      await until(() => (replies === 150 + round ? true : undefined));
    }
    assert.equal(seen(), 153);
  },
);

test(
  'native: runs of same-size replies to one client share a UDP GSO send and still arrive as separate datagrams, in order',
  native,
  async (t) => {
    let failed = 0;
    let batches = 0;
    const b = openNative({
      onBatch: (batch, replies) => {
        batches++;
        for (const d of batch)
          replies.push({ data: Buffer.from(`re:${d.data.toString()}`), to: d.from });
      },
      onSendFailed: (n) => (failed += n),
    });
    t.after(() => b.close());
    const peers = [await rawSocket(), await rawSocket()];
    t.after(() => peers.forEach((p) => p.close()));
    const got: string[][] = [[], []];
    peers.forEach((p, k) => p.on('message', (d) => got[k]?.push(d.toString())));
    // Peer 0 sends runs of equal sizes (3-digit numbers, then a longer run of 4 digits), peer 1
    // interleaves sizes that change at every datagram: only peer 0's runs can be grouped.
    const sent: string[][] = [[], []];
    for (let i = 0; i < 200; i++) {
      const k = i % 4 === 3 ? 1 : 0;
      const text = k === 0 ? String(i < 150 ? 100 + i : 1000 + i) : 'x'.repeat(1 + (i % 7));
      sent[k]?.push(text);
      peers[k]?.send(text, b.address.port, '127.0.0.1');
    }
    await until(() =>
      got[0]?.length === sent[0]?.length && got[1]?.length === sent[1]?.length ? true : undefined,
    );
    assert.deepEqual(
      got,
      sent.map((texts) => texts.map((text) => `re:${text}`)),
    );
    assert.equal(failed, 0);
    const counts = b.sendCounts();
    assert.equal(counts.datagrams, 200);
    // Peer 1's 50 replies go one a message; peer 0's 150 come in runs of 3 between them, one message
    // a run (51 runs: the one at 148–150 is cut where the numbers get a fourth digit), plus one
    // more message per batch at most where a batch boundary cuts a run. Without grouping: 200.
    assert.ok(
      counts.messages >= 101 && counts.messages <= Math.min(101 + batches, 199),
      `${counts.messages} messages in ${batches} batches`,
    );
  },
);

test(
  'native: an IPv4 reply over 548 bytes goes alone (576-byte packets); IPv6 ones up to 1,232 are grouped',
  native,
  async (t) => {
    for (const [family, address, size, grouped] of [
      ['udp4', '127.0.0.1', 548, true],
      ['udp4', '127.0.0.1', 549, false],
      ['udp6', '::1', 1232, true],
      ['udp6', '::1', 1233, false],
    ] as const) {
      const b = openNative({
        family,
        address,
        onBatch: (batch, replies) => {
          for (const d of batch) replies.push({ data: Buffer.from(d.data), to: d.from });
        },
      });
      t.after(() => b.close());
      const peer = await rawSocket(family);
      t.after(() => peer.close());
      let got = 0;
      peer.on('message', (d) => {
        assert.equal(d.length, size);
        got++;
      });
      for (let i = 0; i < 40; i++) peer.send(Buffer.alloc(size, i), b.address.port, address);
      await until(() => (got === 40 ? true : undefined));
      const { messages, datagrams } = b.sendCounts();
      assert.equal(datagrams, 40);
      assert.ok(
        grouped ? messages < 40 : messages === 40,
        `${address} ${size}: ${messages} messages`,
      );
    }
  },
);

for (const backend of serverBackends()) {
  test(`[${backend}] connected (udplab bench): send() reaches the peer, only the peer is heard, ICMP comes as ECONNREFUSED`, async (t) => {
    const peer = await rawSocket();
    let peerOpen = true;
    t.after(() => {
      if (peerOpen) peer.close();
    });
    const stranger = await rawSocket();
    t.after(() => stranger.close());
    const to = { address: '127.0.0.1', port: peer.address().port };
    const heard: string[] = [];
    const errors: string[] = [];
    let failed = 0;
    const b = await openBackend(backend, {
      family: 'udp4',
      address: '0.0.0.0',
      port: 0,
      connect: to,
      sendQueueLimit: 64,
      onBatch: (batch, replies) => {
        for (const d of batch) {
          heard.push(`${d.data.toString()} from ${d.from.address}:${String(d.from.port)}`);
          replies.push({ data: Buffer.from(`ack ${d.data.toString()}`), to: d.from });
        }
      },
      onSendFailed: (n) => (failed += n),
      onError: (err) => errors.push(String(err.code)),
    });
    t.after(() => b.close());
    assert.equal(b.name, backend);
    // Connected from the wildcard address: the local address is the one the route chose.
    assert.equal(b.address.address, '127.0.0.1');
    const got = nextMessage(peer);
    b.send([
      { data: Buffer.from('one'), to },
      { data: Buffer.from('two'), to },
    ]);
    const first = await got;
    assert.equal(first.data.toString(), 'one');
    assert.equal(first.rinfo.port, b.address.port);
    assert.equal((await nextMessage(peer)).data.toString(), 'two');
    stranger.send('not the peer', b.address.port, '127.0.0.1');
    peer.send('reply', b.address.port, '127.0.0.1');
    assert.equal((await nextMessage(peer)).data.toString(), 'ack reply');
    assert.deepEqual(heard, [`reply from 127.0.0.1:${String(to.port)}`]);

    // The peer goes away: the next datagram is answered by ICMP port unreachable.
    peerOpen = false;
    peer.close();
    b.send([{ data: Buffer.from('anyone?'), to }]);
    await until(() => (errors.length + failed > 0 ? true : undefined));
    assert.deepEqual([errors, failed], [['ECONNREFUSED'], 0]);
    assert.deepEqual(heard.length, 1, 'the stranger was never heard');
  });
}

for (const backend of serverBackends()) {
  test(`[${backend}] a connect that fails is UDPLAB_ERR_SEND and leaves no socket open`, async () => {
    for (const connect of [
      { address: '127.0.0.1', port: 0 }, // no port
      { address: '::1', port: 9 }, // an IPv6 peer for an IPv4 socket
    ]) {
      await assert.rejects(
        openBackend(backend, connectOptions('udp4', connect)),
        { code: ErrorCodes.SEND },
        JSON.stringify(connect),
      );
    }
    // A socket left open would keep this test file's process alive: the runner would time out.
  });
}
