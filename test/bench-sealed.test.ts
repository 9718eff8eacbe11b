import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SealedType, bench, createServer, openDatagram, sealDatagram } from '../src/index.js';
import { sealedCodec } from '../src/bench-sealed.js';
import { SealKey, writeKeyFile } from '../src/keys.js';
import { nativeSkipReason, serverBackends } from './backends.js';
import { rawSocket, runCli } from './helpers.js';
import { sealByHand } from './sealed-craft.js';

async function server(
  t: { after: (fn: () => unknown) => void },
  key: SealKey | undefined,
): Promise<number> {
  const s = await createServer({
    host: '127.0.0.1',
    port: 0,
    perDatagramEvents: false,
    ...(key === undefined ? {} : { key }),
  });
  t.after(() => s.close());
  return s.address.port;
}

// On both backends: the sealed codec is the same, the socket path is not.
for (const backend of serverBackends()) {
  test(`[${backend}] sealed mode: every request sealed, every authentic reply matched to its request`, async (t) => {
    const key = SealKey.generate();
    const port = await server(t, key);
    const s = await bench({
      backend,
      host: '127.0.0.1',
      port,
      requests: 200,
      concurrency: 8,
      codec: sealedCodec(key, 32),
    });
    assert.deepEqual(
      { mode: s.mode, bytes: s.bytes, sent: s.sent, replies: s.replies, bad: s.bad, lost: s.lost },
      { mode: 'sealed', bytes: 32 + 49, sent: 200, replies: 200, bad: 0, lost: 0 },
    );
  });

  test(`[${backend}] CLI --key-file: a sealed run`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'udplab-bench-key-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const key = SealKey.generate();
    const file = join(dir, 'lab.key');
    await writeKeyFile(file, key);
    const port = await server(t, key);
    const ok = await runCli([
      'bench',
      '127.0.0.1',
      String(port),
      '-n',
      '50',
      '-c',
      '4',
      '-k',
      file,
      '--backend',
      backend,
      '--json',
    ]);
    assert.equal(ok.code, 0, ok.stderr.text);
    const events = ok.stdout.events();
    assert.equal(events.find((e) => e.event === 'started')?.backend, backend);
    const summary = events.find((e) => e.event === 'summary');
    assert.deepEqual(
      { mode: summary?.mode, replies: summary?.replies, bad: summary?.bad },
      { mode: 'sealed', replies: 50, bad: 0 },
    );
  });
}

test('sealed mode: a plain server’s replies are bad; a server with another key answers nothing', async (t) => {
  const key = SealKey.generate();
  const plain = await server(t, undefined);
  const s1 = await bench({
    host: '127.0.0.1',
    port: plain,
    requests: 20,
    codec: sealedCodec(key, 8),
  });
  // The plain server answers the sealed bytes as text: not sealed, so every reply is bad.
  assert.deepEqual({ replies: s1.replies, bad: s1.bad }, { replies: 0, bad: 20 });
  const other = await server(t, SealKey.generate());
  const s2 = await bench({
    host: '127.0.0.1',
    port: other,
    requests: 5,
    timeoutMs: 30,
    codec: sealedCodec(key, 8),
  });
  assert.deepEqual(
    { replies: s2.replies, lost: s2.lost, bad: s2.bad },
    { replies: 0, lost: 5, bad: 0 },
  );
});

test('the sealed codec: consecutive IDs from a random base, carried across 32-bit words; replies matched', () => {
  const key = SealKey.generate();
  const codec = sealedCodec(key, 5, () => 1_800_000_000_000);
  const idOf = (seq: number): bigint => {
    const r = openDatagram(key, codec.request(seq));
    assert.ok(r.ok && r.message.type === SealedType.REQUEST && r.message.attempt === 1);
    return r.message.id;
  };
  const base = idOf(1) - 1n;
  assert.ok(base >= 0n && base < 2n ** 62n);
  // Far enough apart that the low word wraps, whatever the base.
  for (const seq of [2, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 7, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
    assert.equal(idOf(seq), base + BigInt(seq), `seq ${String(seq)}`);
    const reply = (body: string, id = base + BigInt(seq)) =>
      sealDatagram(key, {
        type: SealedType.REPLY,
        id,
        timeMs: 1,
        attempt: 1,
        body: Buffer.from(body),
      });
    assert.equal(codec.match(reply('I received from you a message of 5 bytes')), seq);
    assert.deepEqual(codec.match(reply('I received from you a message of 6 bytes')), { bad: seq });
  }
  const other = (id: bigint) =>
    sealDatagram(key, { type: SealedType.REPLY, id, timeMs: 1, attempt: 1, body: Buffer.alloc(0) });
  assert.equal(codec.match(other(base)), 'bad', 'seq 0 is not a request of this run');
  assert.equal(
    codec.match(
      sealDatagram(SealKey.generate(), {
        type: SealedType.REPLY,
        id: base + 1n,
        timeMs: 1,
        attempt: 1,
        body: Buffer.alloc(0),
      }),
    ),
    'bad',
  );
  assert.equal(codec.match(codec.request(3)), 'bad', 'a request is not a reply');
});

test('CLI: a sealed --size too large is a usage error, found before the key file is read', async () => {
  const r = await runCli(['bench', '127.0.0.1', '9', '-k', '/nonexistent/lab.key', '-s', '65459']);
  assert.equal(r.code, 2);
  assert.match(r.stderr.text, /--size: at most 65,458 bytes with --key-file/);
});

test('CLI: --id with --key-file is a usage error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'udplab-bench-key-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'lab.key');
  await writeKeyFile(file, SealKey.generate());
  const both = await runCli(['bench', '127.0.0.1', '9', '--id', '-k', file]);
  assert.equal(both.code, 2);
  assert.match(both.stderr.text, /--id and --key-file/);
});

test('CLI: no reply from a sealed server: a plain or --id run is told a sealed server is silent to it; a sealed run with this key is told of a full replay cache', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'udplab-bench-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = SealKey.generate();
  const file = join(dir, 'lab.key');
  await writeKeyFile(file, key);
  const s = await createServer({
    host: '127.0.0.1',
    port: 0,
    perDatagramEvents: false,
    key,
    replayCacheSize: 1,
  });
  t.after(() => s.close());
  const port = String(s.address.port);
  for (const mode of [[], ['--id']]) {
    const r = await runCli(['bench', '127.0.0.1', port, '-n', '2', '-t', '0.05', ...mode]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout.text,
      /No reply: is a server listening there.*\(a sealed server, --key-file, stays silent to plain requests: bench it with -k and its key\)\n$/,
    );
  }
  // One request fills the one-entry cache; the run's others are refused (cache-full).
  await runCli(['bench', '127.0.0.1', port, '-n', '1', '-t', '0.2', '-k', file]);
  const full = await runCli(['bench', '127.0.0.1', port, '-n', '2', '-t', '0.05', '-k', file]);
  assert.equal(full.code, 1);
  assert.match(
    full.stdout.text,
    /No reply: is a sealed server listening there, with this key\? \(one with another key stays silent; so does one with this key while its replay cache is full, its summary counting cache-full: see --replay-cache and --window; and to requests its clock calls stale, its summary counting stale: the clocks differ by more than its --window, or it started less than that difference ago\)\n$/,
  );
  assert.ok(s.counters.rejectedBy['cache-full'] >= 2);
});

/**
 * A sealed server that answers request `seq` according to `seq % 10`, with every kind of reply a
 * load generator must sort out: right, wrong text, naming no request, another key, the request
 * itself, twice, none, attempt 0, truncated, naming a request never sent.
 */
async function trickyServer(
  t: { after: (fn: () => unknown) => void },
  key: SealKey,
): Promise<number> {
  const socket = await rawSocket();
  t.after(() => socket.close());
  const other = SealKey.generate();
  let base: bigint | undefined;
  socket.on('message', (data, from) => {
    const r = openDatagram(key, data);
    if (!r.ok) return;
    base ??= r.message.id - 1n; // the first request is seq 1
    const seq = r.message.id - base;
    const reply = (body: string, id = r.message.id, k = key) =>
      sealDatagram(k, {
        type: SealedType.REPLY,
        id,
        timeMs: 1,
        attempt: 1,
        body: Buffer.from(body),
      });
    const right = reply('I received from you a message of 16 bytes');
    const send = (d: Uint8Array) => socket.send(d, from.port, from.address);
    switch (Number(seq % 10n)) {
      case 0:
        return send(right);
      case 1:
        return send(reply('I received from you a message of 17 bytes'));
      case 2:
        return send(reply('I received from you a message of 16 bytes', base));
      case 3:
        return send(reply('I received from you a message of 16 bytes', r.message.id, other));
      case 4:
        return send(data);
      case 5:
        send(right);
        return send(right);
      case 6:
        return; // lost
      case 7:
        return send(
          sealByHand(key, {
            type: SealedType.REPLY,
            id: r.message.id,
            timeHi: 0,
            timeLo: 1,
            attempt: 0,
            body: Buffer.from('I received from you a message of 16 bytes'),
          }),
        );
      case 8:
        return send(right.subarray(0, 48));
      default:
        return send(reply('I received from you a message of 16 bytes', base + 2n ** 52n));
    }
  });
  return socket.address().port;
}

test('sealed mode in C (native socket) and in JS (dgram): the same verdicts on every kind of reply', async (t) => {
  const key = SealKey.generate();
  const runs = [];
  for (const backend of serverBackends()) {
    const port = await trickyServer(t, key);
    const codec = sealedCodec(key, 16);
    const calls = { request: 0, match: 0 };
    const counted = {
      ...codec,
      request: (seq: number) => (calls.request++, codec.request(seq)),
      match: (reply: Uint8Array) => (calls.match++, codec.match(reply)),
    };
    const s = await bench({
      backend,
      host: '127.0.0.1',
      port,
      requests: 40,
      timeoutMs: 100,
      codec: counted,
    });
    const { sent, replies, bad, late, lost, errors } = s;
    runs.push({ backend, counts: { sent, replies, bad, late, lost, errors }, calls });
  }
  for (const { backend, counts, calls } of runs) {
    // Per 10 requests: right 0, 5 (and 5's copy late), 9's names a request never sent (late, and
    // its own is lost); bad 1, 2, 3, 4, 7, 8; lost 6 and 9.
    assert.deepEqual(
      counts,
      { sent: 40, replies: 8, bad: 24, late: 8, lost: 8, errors: 0 },
      backend,
    );
    if (backend === 'native') assert.deepEqual(calls, { request: 1, match: 0 }, 'all in C');
    else assert.deepEqual(calls, { request: 41, match: 40 }, 'a request each, a match a reply');
  }
});

/** A sealed server answering every request rightly, with room for big datagrams in its buffer. */
async function roomyServer(
  t: { after: (fn: () => unknown) => void },
  key: SealKey,
): Promise<number> {
  const socket = await rawSocket();
  t.after(() => socket.close());
  socket.setRecvBufferSize(4 * 1024 * 1024); // capped by net.core.rmem_max: enough for 6 here
  socket.on('message', (data, from) => {
    const r = openDatagram(key, data);
    if (!r.ok) return;
    const text = `I received from you a message of ${String(r.message.body.length)} bytes`;
    const reply = sealDatagram(key, {
      type: SealedType.REPLY,
      id: r.message.id,
      timeMs: 1,
      attempt: 1,
      body: Buffer.from(text),
    });
    socket.send(reply, from.port, from.address);
  });
  return socket.address().port;
}

test(
  'sealed mode in C: big requests (40,000 bytes: two sends for a turn of 6) and an injected clock (JS)',
  { skip: nativeSkipReason ?? false },
  async (t) => {
    const key = SealKey.generate();
    const big = await bench({
      backend: 'native',
      host: '127.0.0.1',
      port: await roomyServer(t, key),
      requests: 60,
      concurrency: 6,
      codec: sealedCodec(key, 40_000),
    });
    assert.deepEqual(
      { replies: big.replies, bad: big.bad, lost: big.lost },
      { replies: 60, bad: 0, lost: 0 },
    );
    // A codec with its own clock has no C form: JS seals with that clock.
    const port = await server(t, key);
    const clocked = sealedCodec(key, 8, () => Date.now() + 1);
    assert.equal(clocked.native, undefined);
    assert.ok(sealedCodec(key, 8).native !== undefined);
    const s = await bench({
      backend: 'native',
      host: '127.0.0.1',
      port,
      requests: 10,
      codec: clocked,
    });
    assert.equal(s.replies, 10);
  },
);
