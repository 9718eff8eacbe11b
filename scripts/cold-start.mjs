#!/usr/bin/env node
// cold-start.mjs - the client cold-start measurement of `npm run bench`, alone and with more
// runs: whole-process wall time of one request to `udplab server --quiet`, udplab's client
// against the bare Node dgram client (scripts/bench/client_node_raw.mjs), interleaved
// (A B C A B C …) and pinned to CPU 1 (the server to CPU 0) where taskset exists, so that drift
// on a shared machine hits every row alike. Prints each row's median and its ratio to the bare
// client; compare ratios within one run, never across runs.
//
// Usage: npm run bench:cold [-- --runs 31 --id --baseline OLD/build/src/bin.js]   (--help: USAGE)
//   --id adds the `udplab client --id` row; --baseline the same client row for another build
//   (before/after in one run; a built checkout, e.g. a git worktree of an older commit).
//
// Loopback only; bounded (each client has 10 s); stops only the server it started, by its PID.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existingFile, integerOption, parseOptions } from './script-args.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const USAGE = `Usage: npm run bench:cold [-- OPTIONS]   (or: node scripts/cold-start.mjs OPTIONS)
  --runs N        interleaved runs of every client, 1–1000 (default 31)
  --id            add the \`udplab client --id\` row
  --baseline BIN  add the client row of another build's build/src/bin.js (before/after in one run)
  -h, --help      this text
Medians of whole-process wall time of one request to \`udplab server --quiet\` on 127.0.0.1,
with the ratio to the bare Node dgram client; compare ratios within one run, never across runs.`;

// Every argument is checked before anything else (the build, the server): a bad one is one
// line on stderr and exit 2, never a stack trace.
const opt = parseOptions('cold-start', {
  help: { type: 'boolean', short: 'h', default: false },
  runs: { type: 'string', default: '31' },
  baseline: { type: 'string' },
  id: { type: 'boolean', default: false },
});
if (opt.help) {
  console.log(USAGE);
  process.exit(0);
}
const RUNS = integerOption('cold-start', 'runs', opt.runs, 1, 1000);
const baseline = opt.baseline === undefined ? undefined : resolve(opt.baseline);
if (baseline !== undefined) existingFile('cold-start', 'baseline', baseline);
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
  ...(baseline
    ? [
        {
          name: 'baseline udplab client',
          argv: (p) => [node, baseline, 'client', HOST, p],
          // A wrong --baseline is the likely cause when this row fails: said in its line.
          failed: (why) =>
            `the baseline client (${baseline}) failed (${why}); ` +
            'is it the build/src/bin.js of a built udplab checkout?',
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
/** Resolves with the server's port, or rejects when it exits or is silent for 10 s. */
const listening = new Promise((res, rej) => {
  let out = '';
  const timer = setTimeout(
    () => rej(new Error(`the server did not start in 10 s: ${out}`)),
    10_000,
  );
  void exited.then((code) => {
    clearTimeout(timer);
    rej(new Error(`the server exited (code ${code}) before it listened: ${out}`));
  });
  server.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
    const m = /Listening at [^\s]*:(\d+)/.exec(out);
    if (m) {
      clearTimeout(timer);
      res(m[1]);
    }
  });
});

/** Why a client run failed, in a few words: the 10 s limit, a signal or its exit code. */
function why(r) {
  if (r.error?.code === 'ETIMEDOUT') return 'no answer within 10 s';
  if (r.error) return r.error.message;
  return r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
}

const times = new Map(clients.map((c) => [c.name, []]));
/** One line saying what went wrong, or undefined when every run succeeded. */
let failure;
try {
  const port = await listening;
  runs: for (let i = 0; i < RUNS; i++) {
    for (const c of clients) {
      const argv = pin(1, c.argv(port));
      const t0 = process.hrtime.bigint();
      const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 10_000 });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) {
        failure = c.failed ? c.failed(why(r)) : `${c.name} failed (${why(r)})`;
        break runs;
      }
      times.get(c.name).push(ms);
    }
  }
} catch (err) {
  failure = err.message.trim().replaceAll('\n', ' ');
} finally {
  if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM'); // by its PID
  await exited;
}
if (failure !== undefined) {
  console.error(`cold-start: ${failure}`);
  process.exit(1);
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
  `cold start, median of ${RUNS} interleaved runs${pinned ? ' (clients on CPU 1, server on CPU 0)' : ''}:`,
);
for (const c of clients) {
  const m = median(times.get(c.name));
  console.log(
    `  ${c.name.padEnd(24)} ${m.toFixed(1).padStart(6)} ms  ${(m / bare).toFixed(3)}×  (quartiles ${quartiles(times.get(c.name))} ms)`,
  );
}
