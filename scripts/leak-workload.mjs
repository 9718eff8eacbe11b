// The bounded workload of scripts/leakcheck.sh: exercises every allocation path of the native
// addon (open, batches, sends, the EAGAIN queue, close with replies queued, bind failures, and
// udplab bench's connected socket: connect, ICMP errors, connect failures) so that valgrind can
// tell whether anything the addon allocates outlives it; and its ChaCha20-Poly1305
// (udplab_aead.c): key handles made and collected, datagrams sealed, opened and forged; and the
// sealed server's C path (udplab_sealed.c, udplab_replay.c): requests answered, retransmitted,
// replayed, forged, the replay cache grown past its first allocation and full, then closed; and
// udplab bench --key-file's C side (requests sealed, replies opened in C).
// Usage: node scripts/leak-workload.mjs [cycles=20] [datagrams per cycle=2000]
import dgram from 'node:dgram';
import { bench, createServer } from '../build/src/index.js';
import { sealedCodec } from '../build/src/bench-sealed.js';
import { loadNativeAddon, openNativeBackend } from '../build/src/backend/native.js';
import { SealKey } from '../build/src/keys.js';
import { openDatagram, sealDatagram, SealedType, useAead } from '../build/src/wire/sealed.js';

const cycles = Number(process.argv[2] ?? 20);
const perCycle = Number(process.argv[3] ?? 2000);
const load = loadNativeAddon();
if (!('addon' in load)) throw new Error(load.reason);

const client = dgram.createSocket('udp4');
await new Promise((r) => client.bind(0, '127.0.0.1', r));
let answered = 0;
let sealedAnswered = 0;
/** One cycle, in its own function so that nothing of it stays referenced from this frame. */
async function cycle() {
  const server = await createServer({ host: '127.0.0.1', backend: 'native' });
  // Bind failure on the same port: the error path frees what open() allocated.
  await createServer({ host: '127.0.0.1', port: server.address.port, backend: 'native' }).then(
    () => {
      throw new Error('bound twice');
    },
    () => undefined,
  );
  let got = 0;
  const done = new Promise((resolve) => {
    const on = () => {
      if (++got === perCycle) {
        client.off('message', on);
        resolve();
      }
    };
    client.on('message', on);
  });
  for (let sent = 0; sent < perCycle; sent += 50) {
    for (let i = 0; i < 50; i++)
      client.send(`${sent + i}; leak check`, server.address.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.race([done, new Promise((r) => setTimeout(r, 5000).unref())]);
  answered += got;
  // udplab bench's path: a connected socket, batches of requests and replies both ways.
  const run = await bench({
    host: '127.0.0.1',
    port: server.address.port,
    backend: 'native',
    requests: perCycle,
    concurrency: 64,
  });
  answered += run.replies;
  const closedPort = server.address.port;
  await server.close();
  // Nothing listens any more: ICMP port unreachable, the poll restarted after each error.
  await bench({
    host: '127.0.0.1',
    port: closedPort,
    backend: 'native',
    requests: 20,
    concurrency: 4,
    timeoutMs: 5,
  });
  // A connect that fails (an IPv6 peer for an IPv4 socket): the handle is closed at once.
  try {
    openNativeBackend(load.addon, {
      family: 'udp4',
      address: '0.0.0.0',
      port: 0,
      connect: { address: '::1', port: 9 },
      sendQueueLimit: 1,
      onBatch: () => undefined,
      onSendFailed: () => undefined,
      onError: () => undefined,
    });
    throw new Error('connected to an IPv6 peer from an IPv4 socket');
  } catch (err) {
    if (err.code !== 'UDPLAB_ERR_SEND') throw err;
  }

  // Replies that would block, queued, then dropped at close (the queue's memory).
  let seen = 0;
  const b = openNativeBackend(load.addon, {
    family: 'udp4',
    address: '127.0.0.1',
    port: 0,
    sendQueueLimit: 100,
    onBatch: (batch, replies) => {
      seen += batch.length;
      for (const d of batch) replies.push({ data: Buffer.from(d.data), to: d.from });
    },
    onSendFailed: () => undefined,
    onError: () => undefined,
  });
  b.setBlocked(true);
  for (let i = 0; i < 150; i++) client.send('queued', b.address.port, '127.0.0.1');
  const until = Date.now() + 3000;
  while (seen < 150 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  await b.close();

  // A sealed --quiet server answers in C: new requests (the cache grows past 1,024 entries and
  // fills), retransmissions, replays and forgeries; closing frees its state.
  const sealedKey = SealKey.generate();
  const sealed = await createServer({
    host: '127.0.0.1',
    backend: 'native',
    key: sealedKey,
    perDatagramEvents: false,
    replayCacheSize: 1500,
  });
  if (sealed.replyPath !== 'c') throw new Error('the sealed server did not take the C path');
  const t0 = Date.now() + 1;
  await new Promise((r) => setTimeout(r, 2));
  for (let sent = 0; sent < 2000; sent += 50) {
    for (let i = sent; i < sent + 50; i++) {
      const d = sealDatagram(sealedKey, {
        type: SealedType.REQUEST,
        id: BigInt(i % 1800),
        timeMs: t0,
        attempt: 1 + Math.floor(i / 1800),
        body: Buffer.alloc(i % 100),
      });
      client.send(d, sealed.address.port, '127.0.0.1');
      if (i % 10 === 0) client.send(d, sealed.address.port, '127.0.0.1'); // a replay
      if (i % 25 === 0) client.send(d.subarray(0, 60), sealed.address.port, '127.0.0.1'); // forged
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const sealedUntil = Date.now() + 3000;
  while (sealed.counters.received < 2280 && Date.now() < sealedUntil)
    await new Promise((r) => setTimeout(r, 5));
  if (sealed.counters.rejectedBy['cache-full'] === 0) throw new Error('the cache never filled');
  sealedAnswered += sealed.counters.replied;
  await sealed.close();
  // udplab bench --key-file on the native socket: requests sealed and replies opened in C.
  const sealedServer = await createServer({
    host: '127.0.0.1',
    backend: 'native',
    key: sealedKey,
    perDatagramEvents: false,
  });
  const sealedRun = await bench({
    host: '127.0.0.1',
    port: sealedServer.address.port,
    backend: 'native',
    requests: perCycle,
    concurrency: 64,
    codec: sealedCodec(sealedKey, 32),
  });
  sealedAnswered += sealedRun.replies;
  await sealedServer.close();

  // Sealed datagrams: a key handle per cycle (its cipher contexts freed by the finalizer).
  const key = SealKey.generate();
  for (let i = 0; i < 100; i++) {
    const d = sealDatagram(key, {
      type: SealedType.REQUEST,
      id: BigInt(i),
      timeMs: 1,
      attempt: 1,
      body: Buffer.alloc(i),
    });
    if (!openDatagram(key, d).ok) throw new Error('a sealed datagram did not open');
    d[d.length - 1] ^= 1;
    if (openDatagram(key, d).ok) throw new Error('a forged datagram opened');
  }
}
if (useAead('native') !== 'native') throw new Error('no native ChaCha20-Poly1305');
for (let c = 0; c < cycles; c++) await cycle();
client.close();
// Collect the closed sockets' JS handles now, so that what remains at exit is really held.
for (let i = 0; i < 3 && typeof globalThis.gc === 'function'; i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 10));
}
console.log(
  `leak workload: ${cycles} cycles, ${answered}/${2 * cycles * perCycle} replies, ${sealedAnswered} sealed replies from C`,
);
