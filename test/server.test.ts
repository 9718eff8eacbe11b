import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createServer,
  ErrorCodes,
  UdplabError,
  seededRng,
  type ServerEvent,
} from '../src/index.js';
import { serverBackends } from './backends.js';
import { nextMessage, rawSocket } from './helpers.js';

// The whole suite runs against every backend (test/backends.ts): same behaviour, same events.
for (const backend of serverBackends()) {
  async function started(
    t: { after: (fn: () => unknown) => void },
    options: Parameters<typeof createServer>[0] = {},
  ) {
    const events: ServerEvent[] = [];
    const server = await createServer({
      host: '127.0.0.1',
      port: 0,
      onEvent: (e) => events.push(e),
      backend,
      ...options,
    });
    t.after(() => server.close());
    return { server, events };
  }

  test(`[${backend}] replies "I received from you a message of N bytes" byte for byte`, async (t) => {
    const { server, events } = await started(t);
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
    assert.equal(events[0]?.event, 'listening');
    assert.equal(events[0]?.event === 'listening' && events[0].backend, backend);
    assert.equal(server.backend, backend);
  });

  test(`[${backend}] answers any datagram: empty, binary, invalid UTF-8, zero bytes, 65,507 bytes`, async (t) => {
    const { server, events } = await started(t);
    const peer = await rawSocket();
    t.after(() => peer.close());
    const cases = [
      Buffer.alloc(0),
      Buffer.from([0, 0, 0]),
      Buffer.from([0xff, 0xfe, 0x80]),
      Buffer.from('\x1b[2J\n'),
      Buffer.alloc(65507, 0x7a),
    ];
    for (const c of cases) {
      peer.send(c, server.address.port, '127.0.0.1');
      const { data } = await nextMessage(peer);
      assert.equal(data.toString('latin1'), `I received from you a message of ${c.length} bytes`);
    }
    const texts = events.filter((e) => e.event === 'message').map((e) => e.text);
    assert.deepEqual(texts.slice(0, 4), ['', '\\x00\\x00\\x00', '\\xff\\xfe\\x80', '\\x1b[2J\\n']);
  });

  test(`[${backend}] a request ID is echoed in front of the reply; N counts the whole datagram`, async (t) => {
    const { server, events } = await started(t);
    const peer = await rawSocket();
    t.after(() => peer.close());
    peer.send('1234; hello', server.address.port, '127.0.0.1');
    const { data } = await nextMessage(peer);
    assert.equal(data.toString('latin1'), '1234; I received from you a message of 11 bytes');
    const m = events.find((e) => e.event === 'message');
    assert.equal(m?.event === 'message' ? m.id : undefined, '1234');
    peer.send('1234;hello', server.address.port, '127.0.0.1');
    assert.equal(
      (await nextMessage(peer)).data.toString(),
      'I received from you a message of 10 bytes',
    );
  });

  test(`[${backend}] --drop 1 drops everything and counts it; seeded drops repeat exactly`, async (t) => {
    const { server, events } = await started(t, { dropProbability: 1 });
    const peer = await rawSocket();
    t.after(() => peer.close());
    peer.send('x', server.address.port, '127.0.0.1');
    await assert.rejects(nextMessage(peer, 150));
    assert.ok(events.some((e) => e.event === 'dropped'));
    assert.equal(server.counters.dropped, 1);

    const pattern = async (seed: number): Promise<boolean[]> => {
      const s = await createServer({
        host: '127.0.0.1',
        dropProbability: 0.5,
        rng: seededRng(seed),
        backend,
      });
      const out: boolean[] = [];
      for (let i = 0; i < 20; i++) {
        peer.send('x', s.address.port, '127.0.0.1');
        out.push(
          await nextMessage(peer, 100).then(
            () => true,
            () => false,
          ),
        );
      }
      await s.close();
      return out;
    };
    const a = await pattern(42);
    assert.deepEqual(await pattern(42), a);
    assert.ok(a.includes(true) && a.includes(false));
  });

  test(`[${backend}] a bug met on a datagram is an error event (UDPLAB_ERR_INTERNAL), never a crash`, async (t) => {
    // An rng that throws once stands for any bug in the reply logic.
    let calls = 0;
    const rng = (): number => {
      if (++calls === 1) throw new Error('boom');
      return 0.99; // never below --drop 0.5 after that: every datagram answered
    };
    const { server, events } = await started(t, { dropProbability: 0.5, rng });
    const peer = await rawSocket();
    t.after(() => peer.close());
    peer.send('first', server.address.port, '127.0.0.1');
    await assert.rejects(nextMessage(peer, 150), 'the datagram that met the bug is not answered');
    const error = events.find((e) => e.event === 'error');
    assert.equal(error?.code, ErrorCodes.INTERNAL);
    assert.match(error?.message ?? '', /^internal error on a batch of 1 datagram\(s\).*: boom$/);
    peer.send('second', server.address.port, '127.0.0.1');
    assert.equal(
      (await nextMessage(peer)).data.toString(),
      'I received from you a message of 6 bytes',
    );
  });

  test(`[${backend}] abort closes the server and emits the summary`, async () => {
    const ac = new AbortController();
    const events: ServerEvent[] = [];
    const server = await createServer({
      host: '127.0.0.1',
      backend,
      signal: ac.signal,
      onEvent: (e) => events.push(e),
    });
    const peer = await rawSocket();
    peer.send('a', server.address.port, '127.0.0.1');
    await nextMessage(peer);
    peer.close();
    ac.abort();
    await server.closed;
    const summary = events.at(-1);
    assert.equal(summary?.event, 'summary');
    assert.deepEqual(summary?.event === 'summary' && [summary.received, summary.replied], [1, 1]);
  });

  test(`[${backend}] binding a port in use fails with code UDPLAB_ERR_BIND and a clear message`, async (t) => {
    const { server } = await started(t);
    await assert.rejects(
      createServer({ host: '127.0.0.1', port: server.address.port, backend }),
      (err: unknown) => {
        assert.ok(err instanceof UdplabError);
        assert.equal(err.code, ErrorCodes.BIND);
        assert.match(err.message, /already in use/);
        return true;
      },
    );
    await assert.rejects(createServer({ host: '192.0.2.1', port: 0, backend }), {
      code: ErrorCodes.BIND,
    });
  });

  test(`[${backend}] IPv6, "" (all interfaces) and many clients at once`, async (t) => {
    const { server: v6 } = await started(t, { host: '::1' });
    assert.equal(v6.address.family, 'IPv6');
    const p6 = await rawSocket('udp6');
    t.after(() => p6.close());
    p6.send('v6', v6.address.port, '::1');
    assert.equal(
      (await nextMessage(p6)).data.toString(),
      'I received from you a message of 2 bytes',
    );

    const { server: all } = await started(t, { host: '' });
    assert.equal(all.address.address, '0.0.0.0');
    const peers = await Promise.all(Array.from({ length: 20 }, () => rawSocket()));
    t.after(() => peers.forEach((p) => p.close()));
    const replies = peers.map((p) => nextMessage(p));
    peers.forEach((p, i) => p.send('x'.repeat(i + 1), all.address.port, '127.0.0.1'));
    const got = await Promise.all(replies);
    got.forEach(({ data }, i) =>
      assert.equal(data.toString(), `I received from you a message of ${i + 1} bytes`),
    );
  });
}
