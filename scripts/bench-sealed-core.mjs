// In-process cost of the sealed server core (no sockets): µs per sealed request through
// ServerCore.handleBatch in batches of 64. Usage: npm run build && node scripts/bench-sealed-core.mjs [REPO_ROOT]
import { randomBytes } from 'node:crypto';
const root = process.argv[2] ?? new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const { ServerCore } = await import(`${root}/build/src/server-core.js`);
const { SealKey } = await import(`${root}/build/src/keys.js`);
const { sealDatagram, SealedType } = await import(`${root}/build/src/wire/sealed.js`);
const key = SealKey.fromBytes ? SealKey.fromBytes(randomBytes(32)) : SealKey.generate();
const core = new ServerCore({ key, perDatagramEvents: false, replayCacheSize: 1_000_000 });
const N = 60000;
const reqs = [];
let id = 1n;
for (let i = 0; i < N; i++)
  reqs.push(
    sealDatagram(key, {
      type: SealedType.REQUEST,
      id: id++,
      timeMs: Date.now(),
      attempt: 1,
      body: Buffer.alloc(32),
    }),
  );
const from = { address: '127.0.0.1', port: 5000 };
const replies = [],
  events = [];
const batch = [];
const t0 = performance.now();
for (let i = 0; i < N; i += 64) {
  batch.length = 0;
  for (let j = i; j < Math.min(N, i + 64); j++) batch.push({ data: reqs[j], from });
  core.handleBatch(batch, new Date().toISOString(), replies, events);
  replies.length = 0;
  events.length = 0;
}
const us = ((performance.now() - t0) * 1000) / N;
console.log(`${us.toFixed(2)} µs per sealed request; replied ${core.counters.replied}`);
