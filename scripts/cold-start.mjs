#!/usr/bin/env node
// cold-start.mjs - the client cold-start measurement of `npm run bench`, alone and with more
// runs: whole-process wall time of one request to `udplab server --quiet`, udplab's client
// against the bare Node dgram client (scripts/bench/client_node_raw.mjs), interleaved
// (A B C A B C …) and pinned to CPU 1 (the server to CPU 0) where taskset exists, so that drift
// on a shared machine hits every row alike. Prints each row's median and its ratio to the bare
// client; compare ratios within one run, never across runs.
//
// Usage: npm run bench:cold [-- --runs 31 --id --baseline OLD/build/src/bin.js]
//   --id adds the `udplab client --id` row; --baseline the same client row for another build
//   (before/after in one run; a built checkout, e.g. a git worktree of an older commit).
//
// Loopback only; bounded (each client has 10 s); stops only the server it started, by its PID.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const { values: opt } = parseArgs({
  options: {
    runs: { type: 'string', default: '31' },
    baseline: { type: 'string' },
    id: { type: 'boolean', default: false },
  },
});
const bin = join(repo, 'build', 'src', 'bin.js');
if (!existsSync(bin)) {
  console.error('cold-start: build/src/bin.js is missing: run `npm run build` first.');
  process.exit(1);
}
const pinned =
  cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0;
const pin = (cpu, argv) => (pinned ? ['taskset', '-c', String(cpu), ...argv] : argv);
const node = process.execPath;

const clients = [
  { name: 'udplab client', argv: (p) => [node, bin, 'client', HOST, p] },
  ...(opt.id
    ? [{ name: 'udplab client --id', argv: (p) => [node, bin, 'client', HOST, p, '--id'] }]
    : []),
  ...(opt.baseline
    ? [
        {
          name: 'baseline udplab client',
          argv: (p) => [node, resolve(opt.baseline), 'client', HOST, p],
        },
      ]
    : []),
  {
    name: 'bare Node dgram client',
    argv: (p) => [node, join(repo, 'scripts', 'bench', 'client_node_raw.mjs'), HOST, p],
  },
];

// The server: udplab's own, quiet, on an OS-chosen port read back from its first line.
const server = spawn(
  ...(([c, ...a]) => [c, a])(pin(0, [node, bin, 'server', HOST, '0', '--quiet'])),
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const exited = new Promise((r) => server.on('exit', r));
const port = await new Promise((res, rej) => {
  let out = '';
  const timer = setTimeout(() => rej(new Error(`the server did not start: ${out}`)), 10_000);
  server.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
    const m = /Listening at [^\s]*:(\d+)/.exec(out);
    if (m) {
      clearTimeout(timer);
      res(m[1]);
    }
  });
});

const times = new Map(clients.map((c) => [c.name, []]));
try {
  for (let i = 0; i < Number(opt.runs); i++) {
    for (const c of clients) {
      const argv = pin(1, c.argv(port));
      const t0 = process.hrtime.bigint();
      const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 10_000 });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`${c.name} failed (exit ${r.status})`);
      times.get(c.name).push(ms);
    }
  }
} finally {
  server.kill('SIGTERM'); // by its PID
  await exited;
}

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const quartiles = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return [0.25, 0.75].map((q) => v[Math.floor(q * (v.length - 1))].toFixed(1)).join('–');
};
const bare = median(times.get('bare Node dgram client'));
console.log(
  `cold start, median of ${opt.runs} interleaved runs${pinned ? ' (clients on CPU 1, server on CPU 0)' : ''}:`,
);
for (const c of clients) {
  const m = median(times.get(c.name));
  console.log(
    `  ${c.name.padEnd(24)} ${m.toFixed(1).padStart(6)} ms  ${(m / bare).toFixed(3)}×  (quartiles ${quartiles(times.get(c.name))} ms)`,
  );
}
