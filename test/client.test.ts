import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createProxy,
  createServer,
  ErrorCodes,
  GaveUpError,
  request,
  spoof,
  UdplabError,
  type ClientEvent,
} from '../src/index.js';
import { destinationOf } from '../src/address.js';
import { freePort, nextMessage, rawSocket } from './helpers.js';

test('sends the current time, reports its real local address and the reply', async (t) => {
  const server = await createServer({ host: '127.0.0.1' });
  t.after(() => server.close());
  const events: ClientEvent[] = [];
  const r = await request({
    host: '127.0.0.1',
    port: server.address.port,
    onEvent: (e) => events.push(e),
  });
  const bound = events.find((e) => e.event === 'bound');
  assert.ok(bound?.event === 'bound');
  assert.equal(bound.address, '127.0.0.1', 'the real local address, not 0.0.0.0');
  assert.ok(bound.port > 0);
  assert.deepEqual(r.local, { address: bound.address, port: bound.port });
  const sent = events.find((e) => e.event === 'sent');
  assert.ok(sent?.event === 'sent');
  assert.equal(r.text, `I received from you a message of ${sent.bytes} bytes`);
  assert.ok(r.rttMs >= 0 && r.attempts === 1 && r.fromServer);
});

test('the default client is not fooled by a stranger; --promiscuous is', async (t) => {
  const silent = await rawSocket(); // a suspended server: receives, answers later
  t.after(() => silent.close());
  for (const promiscuous of [true, false]) {
    const events: ClientEvent[] = [];
    let clientPort = 0;
    const pending = request({
      host: '127.0.0.1',
      port: silent.address().port,
      promiscuous,
      timeoutMs: 2000,
      attempts: 1,
      onEvent: (e) => {
        if (e.event === 'bound') clientPort = e.port;
        events.push(e);
      },
    });
    const { data, rinfo } = await nextMessage(silent);
    await spoof({ host: '127.0.0.1', port: clientPort });
    await new Promise((r) => setTimeout(r, 30));
    silent.send(`I received from you a message of ${data.length} bytes`, rinfo.port, rinfo.address);
    const r = await pending;
    if (promiscuous) {
      assert.equal(r.text, "I'm fake");
      assert.equal(r.fromServer, false);
    } else {
      assert.equal(r.text, `I received from you a message of ${data.length} bytes`);
      assert.equal(r.fromServer, true);
      assert.ok(!events.some((e) => e.event === 'received' && e.text === "I'm fake"));
    }
  }
});

test('--id: replies with a wrong or missing ID are ignored, the matching one accepted', async (t) => {
  const peer = await rawSocket();
  t.after(() => peer.close());
  const events: ClientEvent[] = [];
  const pending = request({
    host: '127.0.0.1',
    port: peer.address().port,
    id: true,
    timeoutMs: 2000,
    attempts: 1,
    onEvent: (e) => events.push(e),
  });
  const { data, rinfo } = await nextMessage(peer);
  const id = /^([0-9]{1,20}); /.exec(data.toString())?.[1];
  assert.ok(id);
  peer.send('I received from you a message of 3 bytes', rinfo.port, rinfo.address);
  peer.send(
    `${id === '1' ? '2' : '1'}; I received from you a message of 3 bytes`,
    rinfo.port,
    rinfo.address,
  );
  peer.send(`${id}; genuine`, rinfo.port, rinfo.address);
  const r = await pending;
  assert.equal(r.text, 'genuine');
  assert.equal(r.id, id);
  const ignored = events.filter((e) => e.event === 'ignored');
  assert.deepEqual(
    ignored.map((e) => e.event === 'ignored' && e.reason),
    ['wrong-id', 'wrong-id'],
  );
  assert.equal(r.ignored, 2);
});

test('--id and no reply carries the ID: gave-up and GaveUpError count the replies (wrongId)', async (t) => {
  const peer = await rawSocket();
  t.after(() => peer.close());
  // The lab's Python server: answers every request, without echoing its ID.
  peer.on('message', (_data, rinfo) => {
    peer.send('I received from you a message of 3 bytes', rinfo.port, rinfo.address);
  });
  const events: ClientEvent[] = [];
  await assert.rejects(
    request({
      host: '127.0.0.1',
      port: peer.address().port,
      id: '42',
      timeoutMs: 50,
      attempts: 2,
      onEvent: (e) => events.push(e),
    }),
    (err: unknown) => {
      assert.ok(err instanceof GaveUpError);
      assert.equal(err.code, ErrorCodes.TIMEOUT);
      assert.equal(err.details.wrongId, 2);
      assert.match(err.message, /the server answered 2 times without the request's ID/);
      return true;
    },
  );
  const gaveUp = events.at(-1);
  assert.ok(gaveUp?.event === 'gave-up');
  assert.equal(gaveUp.wrongId, 2);

  // With no reply at all the count is 0 (and the generic causes stand); without --id it is absent.
  peer.removeAllListeners('message');
  for (const id of ['42', undefined]) {
    const quiet: ClientEvent[] = [];
    await assert.rejects(
      request({
        host: '127.0.0.1',
        port: peer.address().port,
        ...(id === undefined ? {} : { id }),
        timeoutMs: 10,
        attempts: 1,
        onEvent: (e) => quiet.push(e),
      }),
      GaveUpError,
    );
    const last = quiet.at(-1);
    assert.ok(last?.event === 'gave-up');
    assert.equal(last.wrongId, id === undefined ? undefined : 0);
  }
});

test('against a server that drops everything: exactly the scheduled transmissions, then gave-up', async (t) => {
  const server = await createServer({ host: '127.0.0.1', dropProbability: 1 });
  t.after(() => server.close());
  const events: ClientEvent[] = [];
  const started = performance.now();
  await assert.rejects(
    request({
      host: '127.0.0.1',
      port: server.address.port,
      timeoutMs: 10,
      maxDelayMs: 160,
      onEvent: (e) => events.push(e),
    }),
    (err: unknown) => {
      assert.ok(err instanceof GaveUpError);
      assert.equal(err.code, ErrorCodes.TIMEOUT);
      assert.equal(err.details.attempts, 5);
      return true;
    },
  );
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 310, `waited ${elapsed} ms, schedule is 10+20+40+80+160 = 310`);
  assert.equal(server.counters.received, 5);
  const timeouts = events.filter((e) => e.event === 'timeout');
  assert.deepEqual(
    timeouts.map((e) => e.event === 'timeout' && [e.attempt, e.waitedMs, e.nextWaitMs]),
    [
      [1, 10, 20],
      [2, 20, 40],
      [3, 40, 80],
      [4, 80, 160],
      [5, 160, null],
    ],
  );
  assert.deepEqual(
    events.filter((e) => e.event === 'sent').map((e) => e.event === 'sent' && e.attempt),
    [1, 2, 3, 4, 5],
  );
  const gaveUp = events.at(-1);
  assert.ok(gaveUp?.event === 'gave-up' && gaveUp.reason === 'timeout' && gaveUp.attempts === 5);
  assert.equal(gaveUp.code, ErrorCodes.TIMEOUT, 'the code the GaveUpError has');
  assert.equal(gaveUp.elapsedMs, Math.round(gaveUp.elapsedMs * 1000) / 1000, 'µs resolution');
});

test('refused: reported when nothing listens, and counts as a failed attempt', async () => {
  const port = await freePort();
  const events: ClientEvent[] = [];
  await assert.rejects(
    request({
      host: '127.0.0.1',
      port,
      timeoutMs: 20,
      maxDelayMs: 40,
      onEvent: (e) => events.push(e),
    }),
    { code: ErrorCodes.REFUSED },
  );
  assert.ok(events.filter((e) => e.event === 'refused').length >= 1);
  assert.equal(events.filter((e) => e.event === 'sent').length, 2, 'keeps to the schedule');
  const last = events.at(-1);
  assert.ok(last?.event === 'gave-up' && last.reason === 'refused');
  assert.equal(last.code, ErrorCodes.REFUSED);
});

test('a server started in the middle of the schedule is reached', async (t) => {
  const port = await freePort();
  const events: ClientEvent[] = [];
  const pending = request({
    host: '127.0.0.1',
    port,
    timeoutMs: 50,
    maxDelayMs: 1600,
    onEvent: (e) => events.push(e),
  });
  await new Promise((r) => setTimeout(r, 120));
  const server = await createServer({ host: '127.0.0.1', port });
  t.after(() => server.close());
  const r = await pending;
  assert.ok(r.attempts >= 2, `attempts ${r.attempts}`);
  assert.ok(events.some((e) => e.event === 'refused'));
  assert.match(r.text, /^I received from you a message of \d+ bytes$/);
});

test('abort rejects with UDPLAB_ERR_ABORTED and closes the socket', async (t) => {
  const peer = await rawSocket();
  t.after(() => peer.close());
  const ac = new AbortController();
  const pending = request({
    host: '127.0.0.1',
    port: peer.address().port,
    timeoutMs: 5000,
    signal: ac.signal,
  });
  await nextMessage(peer);
  ac.abort();
  await assert.rejects(pending, { code: ErrorCodes.ABORTED });
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(request({ host: '127.0.0.1', port: 9, signal: pre.signal }), {
    code: ErrorCodes.ABORTED,
  });
});

test('IPv6 and host names', async (t) => {
  const v6 = await createServer({ host: '::1' });
  t.after(() => v6.close());
  const r = await request({ host: '::1', port: v6.address.port, message: 'hi' });
  assert.equal(r.text, 'I received from you a message of 2 bytes');
  assert.equal(r.local.address, '::1');
  const v4 = await createServer({ host: 'localhost' });
  t.after(() => v4.close());
  assert.equal(v4.address.address, '127.0.0.1');
  assert.equal(
    (await request({ host: 'localhost', port: v4.address.port, message: 'abc' })).text,
    'I received from you a message of 3 bytes',
  );
  await assert.rejects(request({ host: 'no-such-host.invalid', port: 9 }), {
    code: ErrorCodes.RESOLVE,
  });
});

test('a message too big for UDP fails with UDPLAB_ERR_TOO_BIG', async (t) => {
  const peer = await rawSocket();
  t.after(() => peer.close());
  await assert.rejects(
    request({ host: '127.0.0.1', port: peer.address().port, message: 'z'.repeat(65508) }),
    {
      code: ErrorCodes.TOO_BIG,
    },
  );
});

test('a server "at" "", 0.0.0.0 or :: is this machine: the reply from loopback is accepted, connected or not', async (t) => {
  assert.deepEqual(['0.0.0.0', '::', '127.0.0.2', '::1'].map(destinationOf), [
    '127.0.0.1',
    '::1',
    '127.0.0.2',
    '::1',
  ]);
  for (const [serverHost, clientHost] of [
    ['127.0.0.1', ''],
    ['127.0.0.1', '0.0.0.0'],
    ['::1', '::'],
  ] as const) {
    const s = await createServer({ host: serverHost });
    t.after(() => s.close());
    for (const promiscuous of [false, true]) {
      const r = await request({
        host: clientHost,
        port: s.address.port,
        message: 'when',
        promiscuous,
        timeoutMs: 200,
        attempts: 2,
      });
      assert.equal(r.text, 'I received from you a message of 4 bytes');
      assert.deepEqual(
        [r.from, r.fromServer, r.ignored],
        [{ address: serverHost, port: s.address.port }, true, 0],
      );
    }
  }
});

test('an IPv4-mapped or other-spelled server address means what it maps: ::ffff:0.0.0.0 is this machine, ::ffff:7f00:1 is 127.0.0.1; the reply is the server’s, not a stranger’s', async (t) => {
  assert.deepEqual(
    ['::ffff:0.0.0.0', '::ffff:0:0', '::FFFF:7f00:2', '0:0:0:0:0:0:0:0', '0:0::1'].map(
      destinationOf,
    ),
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1', '::ffff:127.0.0.2', '::1', '::1'],
  );
  for (const [serverHost, clientHosts] of [
    ['127.0.0.1', ['::ffff:0.0.0.0', '::ffff:0:0', '::ffff:7f00:1']],
    ['::1', ['0:0:0:0:0:0:0:0', '0:0::1']],
  ] as const) {
    const s = await createServer({ host: serverHost });
    t.after(() => s.close());
    for (const host of clientHosts) {
      for (const promiscuous of [false, true]) {
        const r = await request({
          host,
          port: s.address.port,
          message: 'when',
          promiscuous,
          timeoutMs: 200,
          attempts: 2,
        });
        assert.equal(r.text, 'I received from you a message of 4 bytes', host);
        assert.deepEqual([r.fromServer, r.ignored], [true, 0], host);
      }
    }
  }
});

test('library options are checked at once: a plain id that is not digits, a bad port; an aborted signal is ABORTED', async () => {
  await assert.rejects(request({ host: '127.0.0.1', port: 9, id: 'abc' }), {
    name: 'RangeError',
    message: 'id must be 1 to 20 decimal digits (got "abc")',
  });
  for (const port of [0, -1, 65536, 1.5]) {
    await assert.rejects(request({ host: '127.0.0.1', port }), {
      name: 'RangeError',
      message: `port must be an integer from 1 to 65535 (got ${String(port)})`,
    });
  }
  const aborted = AbortSignal.abort();
  for (const start of [
    () => createServer({ host: '127.0.0.1', signal: aborted }),
    () =>
      createProxy({
        listen: { host: '127.0.0.1' },
        to: { host: '127.0.0.1', port: 9 },
        signal: aborted,
      }),
    () => request({ host: '127.0.0.1', port: 9, signal: aborted }),
  ]) {
    await assert.rejects(
      start(),
      (err: unknown) => err instanceof UdplabError && err.code === ErrorCodes.ABORTED,
    );
  }
});
