// In-process cost of the sealed server core (no sockets): µs per datagram through
// ServerCore.handleBatch in batches of 64, without per-datagram events, for an authentic request
// (open, replay check, seal, remember) and a forgery (the tag fails), with each ChaCha20-Poly1305
// implementation available (node:crypto, and the native addon's when it loads), each in a process of
// its own (so neither profits from the other's JIT work).
//
// The server is in its steady state, as under `npm run bench` (--window 1 --replay-cache 400000):
// a simulated clock runs at 100,000 requests a second, so the replay cache holds ~100k IDs and
// forgets as many as it learns. The requests are sealed before the server starts, with times the
// server's clock then reaches (a request sealed before the server started would be stale, and
// would skip the replay cache and the seal). Two warm-up passes, then the median of 3.
// It also times the other side, udplab bench's sealed load generator (src/bench-sealed.ts):
// sealing a request and opening and checking its reply.
// Usage: npm run build && node scripts/bench-sealed-core.mjs [node|native]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const only = process.argv[2];
const { ServerCore } = await import(`${root}/build/src/server-core.js`);
const { SealKey } = await import(`${root}/build/src/keys.js`);
const { openDatagram, sealDatagram, SealedType, useAead } = await import(
  `${root}/build/src/wire/sealed.js`
);
const { sealedCodec } = await import(`${root}/build/src/bench-sealed.js`);

const PASS = 100_000; // requests per pass: one second of the simulated clock
const RATE = 100_000; // requests per simulated second
const from = { address: '127.0.0.1', port: 5000 };

/** Passes of PASS requests each, sealed for the simulated clock from t0 on. */
function requests(key, t0, passes, forged) {
  const out = [];
  let n = 0;
  for (let p = 0; p < passes; p++) {
    const pass = [];
    for (let i = 0; i < PASS; i++, n++) {
      const d = sealDatagram(key, {
        type: SealedType.REQUEST,
        // Spread over all 64 bits, as random IDs are.
        id: (BigInt(n + 1) * 0x9e3779b97f4a7c15n) & 0xffff_ffff_ffff_ffffn,
        timeMs: t0 + Math.floor((n * 1000) / RATE),
        attempt: 1,
        body: Buffer.alloc(32),
      });
      if (forged) d[20] ^= 1;
      pass.push(d);
    }
    out.push(pass);
  }
  return out;
}

function bench(key, forged) {
  const t0 = Date.now() + 1000;
  let clock = t0;
  const core = new ServerCore({
    key,
    perDatagramEvents: false,
    windowMs: 1000,
    replayCacheSize: 400_000,
    now: () => clock,
  });
  const passes = requests(key, t0, 5, forged);
  const replies = [];
  const events = [];
  const batch = [];
  let n = 0;
  const times = passes.map((reqs) => {
    const start = performance.now();
    for (let i = 0; i < reqs.length; i += 64) {
      batch.length = 0;
      for (let j = i; j < Math.min(reqs.length, i + 64); j++) batch.push({ data: reqs[j], from });
      clock = t0 + Math.floor((n * 1000) / RATE);
      n += batch.length;
      core.handleBatch(batch, 'time', replies, events);
      replies.length = 0;
    }
    return ((performance.now() - start) * 1000) / reqs.length;
  });
  const want = forged ? 'rejected' : 'replied';
  if (core.counters[want] !== n)
    throw new Error(`expected all ${n} ${want}: ${JSON.stringify(core.counters)}`);
  return times.slice(2).sort((a, b) => a - b)[1];
}

if (only === undefined) {
  for (const impl of ['node', 'native']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), impl], {
      encoding: 'utf8',
    });
    process.stdout.write(r.status === 0 ? r.stdout : `${impl.padEnd(6)} not available\n`);
  }
} else {
  if (useAead(only) !== only) process.exit(1); // throws when the addon is not there
  const key = SealKey.generate();
  const ok = bench(key, false);
  const forged = bench(key, true);
  const [request, reply] = generator(key);
  console.log(
    `${only.padEnd(6)} ${ok.toFixed(2)} µs per authentic request, ${forged.toFixed(2)} µs per forgery; ` +
      `load generator: ${request.toFixed(2)} µs a request, ${reply.toFixed(2)} µs a reply`,
  );
}

/** µs to seal a request and to open and match a reply in udplab bench's sealed codec (median of 3). */
function generator(key) {
  const codec = sealedCodec(key, 32);
  const body = Buffer.from('I received from you a message of 32 bytes');
  // The server's replies to the codec's requests 1 … PASS, made with the reference functions.
  const replies = [];
  for (let seq = 1; seq <= PASS; seq++) {
    const r = openDatagram(key, codec.request(seq));
    const id = r.message.id;
    replies.push(sealDatagram(key, { type: SealedType.REPLY, id, timeMs: 1, attempt: 1, body }));
  }
  const time = (loop) => {
    const start = performance.now();
    loop();
    return ((performance.now() - start) * 1000) / PASS;
  };
  // A warm-up pass, then the median of 3.
  const median = (f) => [f(), f(), f(), f()].slice(1).sort((a, b) => a - b)[1];
  const request = median(() =>
    time(() => {
      for (let seq = 1; seq <= PASS; seq++) codec.request(seq);
    }),
  );
  const reply = median(() =>
    time(() => {
      for (let i = 0; i < PASS; i++)
        if (codec.match(replies[i]) !== i + 1) throw new Error('a reply did not match');
    }),
  );
  return [request, reply];
}
