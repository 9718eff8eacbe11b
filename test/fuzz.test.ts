/**
 * Fuzzing a live server: more than 100,000 random and mutated datagrams from several source
 * addresses (127.0.0.1–127.0.0.8), sent in paced bursts over loopback so the kernel's receive
 * buffer does not overflow, then a genuine request that must still be answered. The server must
 * not throw, must answer nothing that does not authenticate, and must keep its tables bounded.
 * Seeded: a failure repeats with the same FUZZ_SEED.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { nativeSkipReason } from './backends.js';
import {
  SEALED_MAGIC,
  SealKey,
  SealedType,
  createServer,
  request,
  sealDatagram,
  seededRng,
  type Rng,
} from '../src/index.js';

const TOTAL = 100_000;
const BURST = 200;
const MAX_PAYLOAD = 65_507;
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);

function bytes(rng: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rng() * 256);
  return b;
}

/** One fuzz datagram: random, structured-random, or a valid sealed datagram mutated. */
function fuzzDatagram(rng: Rng, valid: readonly Buffer[], i: number): Buffer {
  const pick = (): Buffer => valid[Math.floor(rng() * valid.length)] ?? Buffer.alloc(0);
  if (i % 20_000 === 7) return bytes(rng, MAX_PAYLOAD); // the largest datagram IPv4 carries
  switch (Math.floor(rng() * 10)) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return bytes(rng, Math.floor(rng() * 1400));
    case 2: // a sealed-looking header, any version and type, random rest
      return Buffer.concat([
        Buffer.from([SEALED_MAGIC, Math.floor(rng() * 4), Math.floor(rng() * 4)]),
        bytes(rng, Math.floor(rng() * 200)),
      ]);
    case 3: {
      // invalid UTF-8 and control bytes in "text"
      const t = Buffer.from(`12345; Current time \xff\xfe\u0000\u001b[2J ${i}`, 'latin1');
      return t;
    }
    case 4: {
      // one bit flipped
      const d = Buffer.from(pick());
      const bit = Math.floor(rng() * d.length * 8);
      d[bit >> 3] = (d[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      return d;
    }
    case 5: // truncated
      return Buffer.from(pick().subarray(0, Math.floor(rng() * pick().length)));
    case 6: // extended
      return Buffer.concat([pick(), bytes(rng, 1 + Math.floor(rng() * 32))]);
    case 7: {
      // spliced: the header of one, the rest of another
      const a = pick();
      const b = pick();
      const cut = 3 + Math.floor(rng() * 40);
      return Buffer.concat([a.subarray(0, cut), b.subarray(cut)]);
    }
    case 8: {
      // several random bytes overwritten
      const d = Buffer.from(pick());
      for (let k = 0; k < 4; k++) d[Math.floor(rng() * d.length)] = Math.floor(rng() * 256);
      return d;
    }
    default: // a valid datagram replayed
      return pick();
  }
}

/**
 * Waits until the server has taken in what was sent, or stops making progress (the kernel dropped
 * the rest): polls once per event-loop turn, gives up after a few idle turns or 200 ms.
 */
async function drain(received: () => number, sent: number): Promise<void> {
  const deadline = Date.now() + 200;
  let last = -1;
  let idle = 0;
  while (received() < sent && Date.now() < deadline && idle < 50) {
    await new Promise((r) => setImmediate(r));
    const now = received();
    idle = now === last ? idle + 1 : 0;
    last = now;
  }
}

async function senders(n: number): Promise<dgram.Socket[]> {
  const out: dgram.Socket[] = [];
  for (let k = 1; k <= n; k++) {
    const s = dgram.createSocket('udp4');
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.bind(0, `127.0.0.${k}`, r));
    out.push(s);
  }
  return out;
}

/**
 * The sealed server's two reply paths: ServerCore in JS (here with events and a rate limit), and the
 * native socket's C path (docs/native.md: `--quiet`, no rate limit; where the addon loads).
 */
const sealedPaths: { path: 'js' | 'c'; skip: string | false }[] = [
  { path: 'js', skip: false },
  { path: 'c', skip: nativeSkipReason ?? false },
];

for (const { path, skip } of sealedPaths)
  test(
    `fuzz: ${TOTAL.toLocaleString('en')} random and mutated datagrams at a live sealed server (${path} path)`,
    { skip },
    async (t) => {
      const key = SealKey.generate();
      let eventCount = 0;
      const server = await createServer({
        host: '127.0.0.1',
        key,
        replayCacheSize: 1000,
        ...(path === 'js'
          ? { rateLimit: 1e6, rateLimitSources: 4 }
          : { backend: 'native' as const, perDatagramEvents: false }),
        onEvent: () => eventCount++,
      });
      t.after(() => server.close());
      assert.equal(server.replyPath, path);
      const rng = seededRng(SEED);
      // A pool of genuine requests for the mutations; each, sent as is, is answered once at most.
      const valid = Array.from({ length: 64 }, (_, k) =>
        sealDatagram(key, {
          type: SealedType.REQUEST,
          id: BigInt(k + 1),
          timeMs: Date.now(),
          attempt: 1,
          body: bytes(rng, Math.floor(rng() * 100)),
        }),
      );
      const socks = await senders(8);
      t.after(() => {
        for (const s of socks) s.close();
      });
      let replies = 0;
      for (const s of socks) s.on('message', () => replies++);

      const started = Date.now();
      let sent = 0;
      while (sent < TOTAL) {
        let inBurst = 0;
        while (inBurst < BURST && sent < TOTAL) {
          const d = fuzzDatagram(rng, valid, sent);
          const s = socks[sent % socks.length];
          s?.send(d, server.address.port, '127.0.0.1', () => undefined);
          sent++;
          inBurst += d.length > 10_000 ? BURST : 1; // a 64 KiB datagram is a burst by itself
        }
        // Pace: let the server drain the burst (bounded wait: the kernel may still drop some).
        await drain(() => server.counters.received, sent);
      }
      const elapsedMs = Date.now() - started;
      const c = server.counters;
      t.diagnostic(
        `sent ${sent} in ${elapsedMs} ms; server received ${c.received}, replied ${c.replied}, ` +
          `rejected ${c.rejected} ${JSON.stringify(c.rejectedBy)}`,
      );
      assert.ok(sent >= 100_000);
      assert.ok(c.received >= sent * 0.99, `received ${c.received} of ${sent}`);
      assert.ok(c.replied <= valid.length, 'only genuine requests were answered, each once');
      assert.equal(
        c.received,
        c.replied + c.rejected + c.rateLimited,
        'every datagram accounted for',
      );
      assert.ok(
        c.rejectedBy['bad-auth'] > 0 && c.rejectedBy.replay > 0 && c.rejectedBy.malformed > 0,
      );
      if (path === 'js') assert.ok(eventCount >= c.received, 'every datagram produced its event');
      assert.ok(elapsedMs < 20_000);

      // Still alive and answering.
      const r = await request({ host: '127.0.0.1', port: server.address.port, key });
      assert.match(r.text, /^I received from you a message of \d+ bytes$/);
      assert.ok(replies <= valid.length);
    },
  );

test('fuzz: 20,000 random datagrams at a live plain server with --rate-limit, which still answers', async (t) => {
  const server = await createServer({ host: '127.0.0.1', rateLimit: 50, perDatagramEvents: false });
  t.after(() => server.close());
  const rng = seededRng(SEED + 1);
  const socks = await senders(4);
  t.after(() => {
    for (const s of socks) s.close();
  });
  let sent = 0;
  while (sent < 20_000) {
    for (let k = 0; k < BURST; k++, sent++)
      socks[sent % socks.length]?.send(
        fuzzDatagram(rng, [], sent + 1),
        server.address.port,
        '127.0.0.1',
      );
    await drain(() => server.counters.received, sent);
  }
  const c = server.counters;
  assert.equal(c.received, c.replied + c.rateLimited);
  assert.ok(c.rateLimited > 0, 'the flood was limited');
  const r = await request({
    host: '127.0.0.1',
    port: server.address.port,
    message: 'still there?',
  });
  assert.equal(r.text, 'I received from you a message of 12 bytes');
});
