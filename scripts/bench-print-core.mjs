// In-process cost of the server's per-datagram output (no sockets): ns per datagram through
// ServerCore.handleBatch, the events and Output (rendered for people or as --json) written to
// /dev/null, in batches of 64 plain 32-byte datagrams from 64 senders, as the native backend
// hands them over; `quiet` is the same without per-datagram events. Median of 3 passes after a
// warm-up pass. Pin it to one CPU for steadier figures.
// Usage: npm run build && taskset -c 0 node scripts/bench-print-core.mjs [print|json|quiet] [BUILD]
//   BUILD: another build's folder (default this repository's build/) for before/after.
import { openSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const mode = process.argv[2] ?? 'print';
if (!['print', 'json', 'quiet'].includes(mode)) {
  console.error('usage: node scripts/bench-print-core.mjs [print|json|quiet] [BUILD]');
  process.exit(2);
}
const build = process.argv[3] ?? fileURLToPath(new URL('../build', import.meta.url));
const { ServerCore } = await import(`${build}/src/server-core.js`);
const { Output } = await import(`${build}/src/cli/output.js`);
const { renderServer } = await import(`${build}/src/cli/server.js`);
const { isoNow } = await import(`${build}/src/events.js`);

const fd = openSync('/dev/null', 'w');
// stdout redirected to a file is written synchronously by Node, as here.
const stdout = { isTTY: false, write: (text) => (writeSync(fd, text), true) };
const io = { stdout, stderr: { write: () => true }, env: {} };
const out = new Output(io, { json: mode === 'json', render: renderServer });

const N = 1_000_000;
const BATCH = 64;
const SLOT = 2048;
const recv = Buffer.alloc(BATCH * SLOT);
for (let i = 0; i < BATCH; i++) recv.write('Tue Nov 25 21:03:44 2026 1234567', i * SLOT, 'latin1');

function pass() {
  const core = new ServerCore({ perDatagramEvents: mode !== 'quiet' });
  const replies = [];
  const events = [];
  const batch = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    batch.length = BATCH;
    for (let j = 0; j < BATCH; j++) {
      const data = Buffer.from(recv.buffer, j * SLOT, 32);
      batch[j] = { data, from: { address: '127.0.0.1', port: 40000 + j } };
    }
    core.handleBatch(batch, isoNow(), replies, events);
    for (let k = 0; k < events.length; k++) out.emit(events[k]);
    if (events.length > 0) events.length = 0;
    replies.length = 0;
    out.flush(); // once per batch, as the server's turn of the event loop
  }
  return ((performance.now() - t0) * 1e6) / N;
}

pass();
const runs = [pass(), pass(), pass()].sort((a, b) => a - b);
console.log(
  `${mode.padEnd(5)} ${runs[1].toFixed(0)} ns/datagram (min ${runs[0].toFixed(0)}, max ${runs[2].toFixed(0)})`,
);
