/**
 * Sealed mode end to end, with real sockets on loopback: the attacks of docs/sealed.md — wrong
 * key, tampering, replay of a captured request, spoofed replies — and retransmission.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  ErrorCodes,
  GaveUpError,
  SealKey,
  SealedType,
  createServer,
  request,
  sealDatagram,
  spoof,
  type ClientEvent,
  type Endpoint,
  type ServerEvent,
  type UdpServer,
  writeKeyFile,
} from '../src/index.js';
import { fixture, nextMessage, rawSocket, spawnCollect, until } from './helpers.js';
import { sealedWithAttemptZero } from './sealed-craft.js';

async function sealedServer(t: TestContext, key: SealKey | undefined, events: ServerEvent[] = []) {
  const server = await createServer({
    host: '127.0.0.1',
    ...(key ? { key } : {}),
    onEvent: (e) => events.push(e),
  });
  t.after(() => server.close());
  return server;
}

/**
 * The network between client and server, as an on-path attacker sees it: forwards both ways,
 * keeps a copy of every request, and can hold back replies.
 */
class Tap {
  readonly socket = dgram.createSocket('udp4');
  readonly requests: Buffer[] = [];
  readonly replies: Buffer[] = [];
  client: Endpoint | undefined;
  /** Replies to swallow before forwarding (a lossy link). */
  dropReplies = 0;
  /** Hold replies until release() (a suspended server). */
  hold = false;
  readonly #held: Buffer[] = [];

  constructor(readonly server: UdpServer) {}

  async start(t: TestContext): Promise<number> {
    this.socket.on('error', () => undefined);
    this.socket.on('message', (data, r) => {
      if (r.port === this.server.address.port) {
        this.replies.push(data);
        if (this.dropReplies > 0) this.dropReplies--;
        else if (this.hold) this.#held.push(data);
        else this.#toClient(data);
      } else {
        this.client = { address: r.address, port: r.port };
        this.requests.push(data);
        this.socket.send(data, this.server.address.port, '127.0.0.1');
      }
    });
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
    t.after(() => this.socket.close());
    return this.socket.address().port;
  }

  release(): void {
    this.hold = false;
    for (const d of this.#held.splice(0)) this.#toClient(d);
  }

  #toClient(data: Buffer): void {
    if (this.client) this.socket.send(data, this.client.port, this.client.address);
  }
}

const rejections = (events: ServerEvent[]): string[] =>
  events.flatMap((e) => (e.event === 'rejected' ? [e.reason] : []));

async function silence(socket: dgram.Socket, ms = 150): Promise<boolean> {
  try {
    await nextMessage(socket, ms);
    return false;
  } catch {
    return true;
  }
}

test('a sealed client and server: the reply is sealed, authenticated and bound to the request', async (t) => {
  const key = SealKey.generate();
  const serverEvents: ServerEvent[] = [];
  const server = await sealedServer(t, key, serverEvents);
  const events: ClientEvent[] = [];
  const r = await request({
    host: '127.0.0.1',
    port: server.address.port,
    key,
    message: 'Current time is now',
    onEvent: (e) => events.push(e),
  });
  assert.equal(r.text, 'I received from you a message of 19 bytes');
  assert.equal(r.sealed, true);
  assert.match(r.id ?? '', /^[0-9]{1,20}$/);
  const sent = events.find((e) => e.event === 'sent');
  assert.ok(sent?.event === 'sent' && sent.sealed === true && sent.bytes === 19 + 49);
  const listening = serverEvents.find((e) => e.event === 'listening');
  assert.ok(listening?.event === 'listening' && listening.keyId === key.id);
  const message = serverEvents.find((e) => e.event === 'message');
  assert.ok(message?.event === 'message' && message.sealed && message.id === r.id);
  assert.equal(message.text, 'Current time is now');
});

test('wrong key on either side: the server stays silent, the client gives up suggesting a key mismatch', async (t) => {
  const serverKey = SealKey.generate();
  const clientKey = SealKey.generate();
  const serverEvents: ServerEvent[] = [];
  const server = await sealedServer(t, serverKey, serverEvents);
  const events: ClientEvent[] = [];
  const err = await request({
    host: '127.0.0.1',
    port: server.address.port,
    key: clientKey,
    timeoutMs: 40,
    attempts: 2,
    onEvent: (e) => events.push(e),
  }).catch((e: unknown) => e);
  assert.ok(err instanceof GaveUpError);
  assert.equal(err.code, ErrorCodes.TIMEOUT);
  assert.equal(err.details.keyId, clientKey.id);
  assert.match(err.message, /key mismatch/);
  const gaveUp = events.find((e) => e.event === 'gave-up');
  assert.ok(gaveUp?.event === 'gave-up' && gaveUp.keyId === clientKey.id);
  assert.deepEqual(rejections(serverEvents), ['bad-auth', 'bad-auth']);
  assert.equal(server.counters.replied, 0);

  // A plain client gets nothing from a sealed server either.
  await assert.rejects(
    request({ host: '127.0.0.1', port: server.address.port, timeoutMs: 40, attempts: 1 }),
    (e: unknown) => e instanceof GaveUpError && e.details.keyId === undefined,
  );
  assert.equal(rejections(serverEvents).at(-1), 'not-sealed');

  // A sealed client facing a plain server ignores its plain-text answers and says so.
  const plain = await sealedServer(t, undefined);
  const ev2: ClientEvent[] = [];
  await assert.rejects(
    request({
      host: '127.0.0.1',
      port: plain.address.port,
      key: clientKey,
      timeoutMs: 40,
      attempts: 1,
      onEvent: (e) => ev2.push(e),
    }),
    GaveUpError,
  );
  assert.ok(ev2.some((e) => e.event === 'ignored' && e.reason === 'not-sealed'));
  const g2 = ev2.find((e) => e.event === 'gave-up');
  assert.ok(g2?.event === 'gave-up' && g2.notSealed === 1);
});

test('tampered: a captured request with any one bit flipped gets no reply', async (t) => {
  const key = SealKey.generate();
  const serverEvents: ServerEvent[] = [];
  const server = await sealedServer(t, key, serverEvents);
  const tap = new Tap(server);
  const port = await tap.start(t);
  await request({ host: '127.0.0.1', port, key });
  const captured = tap.requests[0];
  assert.ok(captured);
  const attacker = await rawSocket();
  t.after(() => attacker.close());
  for (const bit of [0, 9, 17, 30, 8 * captured.length - 1, 8 * 20 + 3]) {
    const d = Buffer.from(captured);
    d[bit >> 3] = (d[bit >> 3] ?? 0) ^ (1 << (bit & 7));
    attacker.send(d, server.address.port, '127.0.0.1');
  }
  assert.ok(await silence(attacker), 'no reply to any tampered copy');
  await until(() => (rejections(serverEvents).length === 6 ? true : undefined));
  // Bit 0 is in the magic, 9 in the version, 17 in the type; the rest fail the tag.
  assert.deepEqual(rejections(serverEvents).sort(), [
    'bad-auth',
    'bad-auth',
    'bad-auth',
    'malformed',
    'malformed',
    'not-sealed',
  ]);
});

test('a key holder’s request with attempt 0 is rejected as malformed; the server goes on', async (t) => {
  const key = SealKey.generate();
  const serverEvents: ServerEvent[] = [];
  const server = await sealedServer(t, key, serverEvents);
  const peer = await rawSocket();
  t.after(() => peer.close());
  peer.send(sealedWithAttemptZero(key, 7n, Date.now()), server.address.port, '127.0.0.1');
  assert.ok(await silence(peer), 'no reply to attempt 0');
  await until(() => (rejections(serverEvents).length === 1 ? true : undefined));
  assert.deepEqual(rejections(serverEvents), ['malformed']);
  const r = await request({ host: '127.0.0.1', port: server.address.port, key });
  assert.match(r.text, /^I received from you a message of \d+ bytes$/);
});

test('replayed: a captured sealed request sent again is rejected, silently', async (t) => {
  const key = SealKey.generate();
  const serverEvents: ServerEvent[] = [];
  const server = await sealedServer(t, key, serverEvents);
  const tap = new Tap(server);
  const port = await tap.start(t);
  const r = await request({ host: '127.0.0.1', port, key, message: 'transfer 100 EUR' });
  assert.equal(r.text, 'I received from you a message of 16 bytes');
  const captured = tap.requests[0];
  assert.ok(captured);
  const attacker = await rawSocket();
  t.after(() => attacker.close());
  attacker.send(captured, server.address.port, '127.0.0.1');
  attacker.send(captured, server.address.port, '127.0.0.1');
  assert.ok(await silence(attacker), 'the replay got no reply');
  await until(() => (rejections(serverEvents).length === 2 ? true : undefined));
  assert.deepEqual(rejections(serverEvents), ['replay', 'replay']);
  assert.equal(server.counters.replied, 1, 'the request was executed once');
  assert.equal(serverEvents.filter((e) => e.event === 'message').length, 1);

  // Replaying to a restarted server (empty cache) fails too: it was sealed before the start.
  const restarted = await sealedServer(t, key, serverEvents);
  attacker.send(captured, restarted.address.port, '127.0.0.1');
  assert.ok(await silence(attacker));
  assert.equal(rejections(serverEvents).at(-1), 'stale');
});

test('retransmission: a lost reply is sent again to the retransmitted request, no attack counted', async (t) => {
  const key = SealKey.generate();
  const serverEvents: ServerEvent[] = [];
  const server = await sealedServer(t, key, serverEvents);
  const tap = new Tap(server);
  tap.dropReplies = 1;
  const port = await tap.start(t);
  const r = await request({ host: '127.0.0.1', port, key, timeoutMs: 50 });
  assert.equal(r.attempts, 2);
  assert.equal(server.counters.retransmissions, 1);
  assert.equal(server.counters.rejected, 0);
  assert.equal(serverEvents.filter((e) => e.event === 'message').length, 1, 'executed once');
  assert.ok(tap.requests[0] && tap.requests[1] && !tap.requests[0].equals(tap.requests[1]));
  assert.deepEqual(tap.replies[0], tap.replies[1], 'the same sealed reply, byte for byte');
});

test('spoofed replies: the sealed client ignores every forgery, even listening to anyone', async (t) => {
  const key = SealKey.generate();
  const server = await sealedServer(t, key);
  // An earlier genuine reply, to another request, for the attacker to replay.
  const tap = new Tap(server);
  const port = await tap.start(t);
  await request({ host: '127.0.0.1', port, key });
  const oldReply = tap.replies[0];
  assert.ok(oldReply);

  tap.hold = true; // the server is "suspended": its reply waits
  const events: ClientEvent[] = [];
  let clientPort = 0;
  const pending = request({
    host: '127.0.0.1',
    port,
    key,
    promiscuous: true, // as if the attacker could forge the server's address
    timeoutMs: 3000,
    attempts: 1,
    onEvent: (e) => {
      if (e.event === 'bound') clientPort = e.port;
      events.push(e);
    },
  });
  await until(() => (tap.requests.length === 2 ? true : undefined));
  const ownRequest = tap.requests[1] ?? Buffer.alloc(0);
  const send = (message: Uint8Array) => spoof({ host: '127.0.0.1', port: clientPort, message });
  await send(Buffer.from("I'm fake"));
  await send(Buffer.from('I received from you a message of 1 bytes'));
  await send(oldReply); // a genuine reply, but to another request ID
  await send(ownRequest); // the client's own request, reflected
  await send(
    sealDatagram(SealKey.generate(), {
      type: SealedType.REPLY,
      id: 1n,
      timeMs: Date.now(),
      attempt: 1,
      body: Buffer.from('I received from you a message of 99 bytes'),
    }),
  );
  await until(() => (events.filter((e) => e.event === 'ignored').length === 5 ? true : undefined));
  tap.release();
  const r = await pending;
  assert.match(r.text, /^I received from you a message of \d+ bytes$/);
  const reasons = events.flatMap((e) => (e.event === 'ignored' ? [e.reason] : []));
  assert.deepEqual(reasons, ['not-sealed', 'not-sealed', 'wrong-id', 'forged', 'forged']);
  assert.equal(r.ignored, 5);
});

test('--rate-limit on a live server: a flood from one source gets burst + rate replies', async (t) => {
  const server = await createServer({ host: '127.0.0.1', rateLimit: 10, rateLimitBurst: 5 });
  t.after(() => server.close());
  const peer = await rawSocket();
  t.after(() => peer.close());
  let replies = 0;
  peer.on('message', () => replies++);
  const started = Date.now();
  for (let i = 0; i < 200; i++) peer.send('x', server.address.port, '127.0.0.1');
  await until(() => (server.counters.received === 200 ? true : undefined));
  const elapsedS = (Date.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 50));
  // At most the burst plus what the bucket refilled meanwhile (10/s), plus one for rounding.
  assert.ok(replies <= 5 + Math.ceil(10 * elapsedS) + 1, `${replies} replies in ${elapsedS} s`);
  assert.ok(replies >= 5);
  assert.equal(server.counters.rateLimited, 200 - server.counters.replied);
});

test('sealed over IPv6 loopback, and a series of sealed requests (each with its own ID)', async (t) => {
  const key = SealKey.generate();
  const server = await createServer({ host: '::1', key });
  t.after(() => server.close());
  const ids = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const r = await request({ host: '::1', port: server.address.port, key, message: 'v6' });
    assert.equal(r.text, 'I received from you a message of 2 bytes');
    ids.add(r.id ?? '');
  }
  assert.equal(ids.size, 3);
  assert.equal(server.counters.replied, 3);
  assert.equal(server.counters.rejected, 0);
});

test('interop: an independent Python implementation of the sealed form (cryptography) talks to the server', async (t) => {
  const probe = spawnSync('python3', ['-c', 'import cryptography.hazmat.primitives.ciphers.aead'], {
    encoding: 'utf8',
  });
  if (probe.status !== 0) {
    t.skip('python3 with the cryptography package is not installed');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'udplab-py-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'k');
  const key = SealKey.generate();
  await writeKeyFile(keyFile, key);
  const serverEvents: ServerEvent[] = [];
  const server = await sealedServer(t, key, serverEvents);
  const py = spawnCollect('python3', [
    fixture('sealed_client.py'),
    '127.0.0.1',
    String(server.address.port),
    keyFile,
    'Grüße aus Python',
  ]);
  assert.equal(await py.exited, 0, py.stderr());
  assert.equal(py.stdout(), 'I received from you a message of 18 bytes');
  const message = serverEvents.find((e) => e.event === 'message');
  assert.ok(message?.event === 'message' && message.text === 'Grüße aus Python');
  assert.deepEqual(rejections(serverEvents), ['replay']);
});
