// In-process cost of the sealed server core (no sockets): µs per datagram through
// ServerCore.handleBatch in batches of 64, without per-datagram events, for an authentic request
// (open, replay check, seal, remember) and a forgery (the tag fails), with each ChaCha20-Poly1305
// implementation available (node:crypto, and the native addon's when it loads), each in a process of
// its own, after a warm-up pass (so neither profits from the other's JIT work); median of 3 passes.
// Usage: npm run build && node scripts/bench-sealed-core.mjs [node|native]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const only = process.argv[2];
const { ServerCore } = await import(`${root}/build/src/server-core.js`);
const { SealKey } = await import(`${root}/build/src/keys.js`);
const { sealDatagram, SealedType, useAead } = await import(`${root}/build/src/wire/sealed.js`);

const N = 60_000;
const from = { address: '127.0.0.1', port: 5000 };

function requests(key, forged) {
  const out = [];
  for (let i = 0; i < N; i++) {
    const d = sealDatagram(key, {
      type: SealedType.REQUEST,
      id: BigInt(i + 1),
      timeMs: Date.now(),
      attempt: 1,
      body: Buffer.alloc(32),
    });
    if (forged) d[20] ^= 1;
    out.push(d);
  }
  return out;
}

function run(key, reqs) {
  const core = new ServerCore({ key, perDatagramEvents: false, replayCacheSize: 1_000_000 });
  const replies = [];
  const events = [];
  const batch = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i += 64) {
    batch.length = 0;
    for (let j = i; j < Math.min(N, i + 64); j++) batch.push({ data: reqs[j], from });
    core.handleBatch(batch, 'time', replies, events);
    replies.length = 0;
  }
  return ((performance.now() - t0) * 1000) / N;
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
  const median = (f) => [f(), f(), f()].sort((a, b) => a - b)[1];
  run(key, requests(key, false)); // warm-up
  const ok = median(() => run(key, requests(key, false)));
  const forged = median(() => run(key, requests(key, true)));
  console.log(
    `${only.padEnd(6)} ${ok.toFixed(2)} µs per authentic request, ${forged.toFixed(2)} µs per forgery`,
  );
}
