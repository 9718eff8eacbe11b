#!/usr/bin/env node
// The benchmark of udplab against neutral yardsticks (../shared/bench), run side by side and
// interleaved (A B C A B C …), the server pinned to CPU 0 and the load to CPU 1 when taskset
// exists. Writes the medians and ratios between the markers of docs/performance.md.
//
// Usage: npm run bench [-- --rounds 3 --duration 3 --warmup 1 --cold 15 --quick --no-write]
//        node scripts/bench.mjs --only udplab,node-raw --loads udpload   (a subset)
//        node scripts/bench.mjs --baseline ../main/build/src/bin.js       (before/after rows)
//
// Loopback only: every server binds 127.0.0.1, every load targets it, every run is bounded.
// Stops only the processes it started, by their PID.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existingFile, integerOption, parseOptions, secondsOption } from './script-args.mjs';
import { median, renderReport } from './bench/report.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const WINDOW = 64; // requests in flight for the throughput runs
const SIZE = 32; // request bytes

const OPTIONS = {
  help: { type: 'boolean', short: 'h', default: false },
  rounds: { type: 'string', default: '3' },
  duration: { type: 'string', default: '3' },
  warmup: { type: 'string', default: '1' },
  cold: { type: 'string', default: '15' },
  only: { type: 'string' },
  loads: { type: 'string' },
  baseline: { type: 'string' },
  quick: { type: 'boolean', default: false },
  'no-write': { type: 'boolean', default: false },
  out: { type: 'string', default: join(repo, 'docs', 'performance.md') },
  shared: { type: 'string', default: resolve(repo, '..', 'shared', 'bench') },
};
const USAGE = `Usage: npm run bench [-- OPTIONS]   (or: node scripts/bench.mjs OPTIONS)
  --rounds N      interleaved rounds, 1–100 (def. 3)  --duration S  seconds a run, ≤ 60 (default 3)
  --warmup S      warm-up of every run, ≤ 60 (def. 1) --cold N      cold-start runs, 1–1000 (def. 15)
  --only A,B      only these server rows              --loads A,B   only these loads
                  (a wrong name is refused with the list of names)
  --baseline BIN  add @base rows for another build's build/src/bin.js (name them in --only too)
  --quick         1 short round (a smoke run)         --no-write    print, leave performance.md
  --out FILE      write there instead of docs/performance.md
  --shared DIR    the yardsticks (default ../shared/bench)`;

// Every argument is checked before anything else (the yardsticks, gcc, a server): a bad one is
// one line on stderr and exit 2, never a run on NaN that overwrites performance.md.
const opt = parseOptions('bench', OPTIONS);
if (opt.help) {
  console.log(USAGE);
  process.exit(0);
}
// Checked even with --quick (which overrides them): a typo is reported, not ignored.
const rounds = integerOption('bench', 'rounds', opt.rounds, 1, 100);
const duration = secondsOption('bench', 'duration', opt.duration, 0, 60, { above: true });
const warmup = secondsOption('bench', 'warmup', opt.warmup, 0, 60);
const coldRuns = integerOption('bench', 'cold', opt.cold, 1, 1000);
if (opt.baseline !== undefined) existingFile('bench', 'baseline', opt.baseline);
const ROUNDS = opt.quick ? 1 : rounds;
const DURATION = opt.quick ? 1 : duration;
const WARMUP = opt.quick ? 0.5 : warmup;
const COLD_RUNS = opt.quick ? 5 : coldRuns;

// ---------------------------------------------------------------- yardsticks and tools

const shared = opt.shared;
const needed = [
  'udpload.c',
  'server_c_mmsg.c',
  'server_node_raw.mjs',
  'server_py.py',
  'server_py_print.py',
];
const missing = needed.filter((f) => !existsSync(join(shared, f)));
if (missing.length > 0) {
  console.error(
    `bench: the yardsticks are missing from ${shared} (${missing.join(', ')}).\n` +
      'They live in ../shared/bench beside the repository (read-only, never copied into it);\n' +
      'pass --shared DIR if they are elsewhere.',
  );
  process.exit(1);
}
const bin = join(repo, 'build', 'src', 'bin.js');
if (!existsSync(bin)) {
  console.error(
    'bench: build/src/bin.js is missing: run `npm run build` first (npm run bench does).',
  );
  process.exit(1);
}
const has = (cmd, args = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
if (!has('gcc')) {
  console.error('bench: gcc is needed to build the C yardsticks (apt-get install gcc).');
  process.exit(1);
}
const python = has('python3') ? 'python3' : null;
const pinned = cpus().length >= 2 && has('taskset', ['-c', '0', 'true']);
const pin = (cpu, argv) => (pinned ? ['taskset', '-c', String(cpu), ...argv] : argv);

// The C programs are built into a temporary folder, never into the repository or ../shared.
const tmp = mkdtempSync(join(tmpdir(), 'udplab-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
for (const name of ['udpload', 'server_c_mmsg']) {
  execFileSync('gcc', ['-O2', '-o', join(tmp, name), join(shared, `${name}.c`)]);
}
const udpload = join(tmp, 'udpload');

/** Runs `udplab … --help` and tells whether the text mentions `flag` (features still to land). */
function udplabHas(command, flag) {
  const r = spawnSync(process.execPath, [bin, command, '--help'], { encoding: 'utf8' });
  return r.stdout.includes(flag);
}

// ---------------------------------------------------------------- what is measured

/**
 * The server variants. Add a row to compare one more: `argv(port)` starts it on 127.0.0.1,
 * `modes` says which loads it answers, `available()` skips it (with the reason) when a feature
 * has not landed yet.
 */
/** `--backend dgram` once the server has backends (a build before them has no such option). */
function dgramBackend() {
  return udplabHas('server', '--backend') ? ['--backend', 'dgram'] : [];
}

/**
 * A sealed-mode server row on one backend. A 1 s window and a large replay cache: at full speed
 * the default cache (65,536 IDs kept for 30 s) fills within a second and the server then refuses
 * new requests (fail closed).
 */
function sealedServer(name, backend) {
  const backendArgs = backend === 'dgram' ? dgramBackend() : ['--backend', backend];
  return {
    name,
    what: `udplab server --backend ${backend} --key-file K --quiet (sealed datagrams)`,
    argv: (p) => [
      process.execPath,
      bin,
      'server',
      HOST,
      p,
      '--key-file',
      sealedKey(),
      '--quiet',
      ...backendArgs,
      '--window',
      '1',
      '--replay-cache',
      '400000',
    ],
    modes: ['sealed'],
    // It answers only sealed requests: ready when a sealed `udplab client` gets its reply.
    ready: async (p) => {
      for (let i = 0; i < 50; i++) {
        const args = [bin, 'client', HOST, p, '-k', sealedKey(), '-t', '0.05', '-a', '1'];
        if (spawnSync(process.execPath, args).status === 0) return;
      }
      throw new Error(`the sealed server on ${HOST}:${p} does not answer`);
    },
    available: () =>
      (udplabHas('server', '--key-file') &&
        udplabHas('bench', '--key-file') &&
        (backend === 'dgram' || udplabHas('server', '--backend'))) ||
      'sealed mode or the backend has not landed',
  };
}

const SERVERS = [
  {
    name: 'udplab',
    what: 'udplab server --backend dgram, a line per datagram (stdout → /dev/null)',
    argv: (p) => [process.execPath, bin, 'server', HOST, p, ...dgramBackend()],
    modes: ['plain', 'id'],
  },
  {
    name: 'udplab-quiet',
    what: 'udplab server --backend dgram --quiet',
    argv: (p) => [process.execPath, bin, 'server', HOST, p, ...dgramBackend(), '--quiet'],
    modes: ['plain', 'id'],
  },
  {
    name: 'udplab-native-print',
    what: 'udplab server --backend native, a line per datagram (stdout → /dev/null)',
    argv: (p) => [process.execPath, bin, 'server', HOST, p, '--backend', 'native'],
    modes: ['plain'],
    available: () => udplabHas('server', '--backend') || 'no --backend option yet',
  },
  {
    name: 'udplab-native',
    what: 'udplab server --backend native --quiet (recvmmsg/sendmmsg)',
    argv: (p) => [process.execPath, bin, 'server', HOST, p, '--backend', 'native', '--quiet'],
    modes: ['plain', 'id'],
    available: () => udplabHas('server', '--backend') || 'no --backend option yet',
  },
  sealedServer('udplab-sealed', 'dgram'),
  sealedServer('udplab-sealed-native', 'native'),
  {
    name: 'node-raw',
    what: 'bare Node dgram server (server_node_raw.mjs)',
    argv: (p) => [process.execPath, join(shared, 'server_node_raw.mjs'), HOST, p],
    modes: ['plain'],
  },
  {
    name: 'py-print',
    what: 'the lab’s Python server, printing (stdout → /dev/null)',
    argv: (p) => [python, join(shared, 'server_py_print.py'), HOST, p],
    modes: ['plain'],
    available: () => python !== null || 'no python3',
  },
  {
    name: 'py',
    what: 'the lab’s Python server loop, not printing',
    argv: (p) => [python, join(shared, 'server_py.py'), HOST, p],
    modes: ['plain'],
    available: () => python !== null || 'no python3',
  },
  {
    name: 'c-mmsg',
    what: 'C recvmmsg/sendmmsg server (the one-core ceiling)',
    argv: (p) => [join(tmp, 'server_c_mmsg'), HOST, p],
    modes: ['plain'],
  },
];

// --baseline DIR/bin.js: the same udplab rows for another build (e.g. main's), for before/after.
if (opt.baseline) {
  const base = resolve(opt.baseline);
  for (const row of SERVERS.filter((r) => r.name.startsWith('udplab'))) {
    SERVERS.push({
      ...row,
      name: `${row.name}@base`,
      what: `${row.what} [baseline build]`,
      argv: (p) => row.argv(p).map((a) => (a === bin ? base : a)),
    });
  }
}

/** A key file for the sealed rows, made by `udplab keygen` in the temporary folder. */
function sealedKey() {
  const file = join(tmp, 'bench.key');
  if (!existsSync(file)) {
    execFileSync(process.execPath, [bin, 'keygen', '--out', file], { stdio: 'ignore' });
  }
  return file;
}

/** The load generators: `run(port, serverPid)` returns { rps, srvCpu }. */
const LOADS = [
  {
    name: 'udpload',
    what: `C generator udpload, ${WINDOW} in flight (sendmmsg/recvmmsg)`,
    mode: 'plain',
    run: (port, pid) => {
      const argv = pin(1, [
        udpload,
        HOST,
        String(port),
        String(DURATION),
        String(WINDOW),
        String(SIZE),
      ]);
      const out = run(argv.concat(['-w', String(WARMUP), '-P', String(pid)]));
      const m = /RESULT (.*)/.exec(out);
      if (!m) throw new Error(`udpload printed no RESULT line: ${out}`);
      const kv = Object.fromEntries(m[1].split(' ').map((x) => x.split('=')));
      return { rps: Number(kv.rps), srvCpu: Number(kv.srv_cpu), bad: Number(kv.bad) };
    },
  },
  {
    // The default backend (auto): native recvmmsg/sendmmsg batches where the addon loads.
    name: 'udplab-bench',
    what: `udplab bench -c ${WINDOW}`,
    mode: 'plain',
    run: (port, pid) => udplabBench(port, pid, []),
  },
  {
    // The node:dgram path of udplab bench, against the C server (and the native server) only:
    // enough to compare the two backends as loads without a third full column of runs.
    name: 'udplab-bench-dgram',
    what: `udplab bench -c ${WINDOW} --backend dgram`,
    mode: 'plain',
    servers: ['c-mmsg', 'udplab-native'],
    available: () => udplabHas('bench', '--backend') || 'udplab bench has no --backend yet',
    run: (port, pid) => udplabBench(port, pid, ['--backend', 'dgram']),
  },
  {
    name: 'udplab-bench-id',
    what: `udplab bench -c ${WINDOW} --id`,
    mode: 'id',
    run: (port, pid) => udplabBench(port, pid, ['--id']),
  },
  {
    name: 'udplab-bench-sealed',
    what: `udplab bench -c ${WINDOW} --key-file K`,
    mode: 'sealed',
    run: (port, pid) => udplabBench(port, pid, ['--key-file', sealedKey()]),
  },
];

function udplabBench(port, pid, extra) {
  const argv = pin(1, [process.execPath, bin, 'bench', HOST, String(port)]).concat([
    '-d',
    String(DURATION),
    '-w',
    String(WARMUP),
    '-c',
    String(WINDOW),
    '-s',
    String(SIZE),
    '--json',
    ...extra,
  ]);
  const cpu0 = cpuSeconds(pid);
  const out = run(argv);
  const cpu1 = cpuSeconds(pid);
  const line = out.split('\n').find((l) => l.includes('"event":"summary"'));
  if (!line) throw new Error(`udplab bench printed no summary: ${out}`);
  const s = JSON.parse(line);
  const started = out.split('\n').find((l) => l.includes('"event":"started"'));
  // The socket backend that ran (a build before `udplab bench --backend` had only dgram).
  const backend = (started && JSON.parse(started).backend) ?? 'dgram';
  // CPU over warm-up + measurement: an approximation of udpload's measured-window figure.
  const srvCpu = cpu0 === null || cpu1 === null ? NaN : ((cpu1 - cpu0) / (DURATION + WARMUP)) * 100;
  return { rps: s.rps, srvCpu, bad: s.bad + s.lost, backend };
}

/** utime + stime of a process in seconds (Linux /proc), or null. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

function run(argv) {
  const r = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    timeout: (DURATION + WARMUP + 30) * 1000,
  });
  if (r.error) throw r.error;
  return r.stdout + r.stderr;
}

// ---------------------------------------------------------------- processes

async function freePort() {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, HOST, r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Resolves when something at `port` answers a datagram (polls for up to 5 s); rejects at once when
 * the server's process ends first (`exited` resolves with its exit code).
 */
async function answers(port, exited) {
  const s = dgram.createSocket('udp4');
  s.on('error', () => undefined);
  let answered = false;
  let gone = null;
  let wake = () => undefined;
  s.on('message', () => {
    answered = true;
    wake();
  });
  void exited.then((code) => {
    gone = code;
    wake();
  });
  try {
    for (let i = 0; i < 100 && !answered && gone === null; i++) {
      s.send('ping', port, HOST);
      await new Promise((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
    if (answered) return;
    throw new Error(
      gone === null
        ? `nothing answers on ${HOST}:${port}`
        : `it exited (code ${gone}) before answering`,
    );
  } finally {
    s.close();
  }
}

/** The servers running now, stopped by their PID when the bench is interrupted or fails. */
const running = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of running) child.kill('SIGKILL');
    console.error(`bench: interrupted (${signal}); stopped the servers it had started`);
    process.exit(130);
  });
}
// Anything not foreseen (a yardstick that will not build, a cold-start client that fails): one
// line, the servers stopped, nothing written; never a stack trace over a half-finished run.
process.on('uncaughtException', (err) => {
  for (const child of running) child.kill('SIGKILL');
  const message = err instanceof Error ? err.message : String(err);
  console.error(
    `bench: ${message.trim().split('\n')[0]}; ${opt['no-write'] ? 'nothing written' : `${opt.out} not written`}`,
  );
  process.exit(1);
});

async function startServer(server) {
  const port = await freePort();
  const argv = pin(0, server.argv(String(port)));
  // stdout to /dev/null: the printing servers pay for their formatting and writes, not a terminal.
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  running.add(child);
  const exited = new Promise((r) => child.on('exit', r));
  void exited.then(() => running.delete(child));
  try {
    await (server.ready ? server.ready(String(port)) : answers(port, exited));
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${server.name} did not start: ${e.message} ${err}`);
  }
  return {
    port,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM'); // by its PID; udplab prints its summary and exits
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

// ---------------------------------------------------------------- throughput runs

const only = opt.only ? new Set(opt.only.split(',')) : null;
for (const [option, names, known] of [
  ['--only', only, SERVERS],
  ['--loads', opt.loads ? opt.loads.split(',') : null, LOADS],
]) {
  const unknown = [...(names ?? [])].filter((n) => !known.some((k) => k.name === n));
  if (unknown.length > 0) {
    console.error(
      `bench: ${option}: no row named ${unknown.join(', ')}; the names are ${known.map((k) => k.name).join(', ')}`,
    );
    process.exit(2);
  }
}
const skipped = [];
const servers = SERVERS.filter((s) => {
  if (only && !only.has(s.name)) return false;
  const a = s.available ? s.available() : true;
  if (a !== true) skipped.push(`${s.name}: ${a}`);
  return a === true;
});
const cells = [];
const loadFilter = opt.loads ? new Set(opt.loads.split(',')) : null;
for (const load of LOADS.filter((l) => !loadFilter || loadFilter.has(l.name))) {
  const a = load.available ? load.available() : true;
  if (a !== true) {
    skipped.push(`${load.name}: ${a}`);
    continue;
  }
  for (const server of servers)
    if (server.modes.includes(load.mode) && (!load.servers || load.servers.includes(server.name)))
      cells.push({ server, load, runs: [] });
}
const loadsUsed = LOADS.filter((l) => cells.some((c) => c.load === l));
// Nothing to measure (the filters left no pair, or every row was skipped): say why and stop
// before the cold starts, rather than write a table of dashes over performance.md.
if (cells.length === 0) {
  console.error(
    'bench: nothing to measure: no server × load pair is left' +
      (only || loadFilter
        ? ' (--only/--loads: a load runs only against servers of its mode)'
        : '') +
      (skipped.length > 0 ? `; skipped ${skipped.join('; ')}` : '') +
      `; ${opt['no-write'] ? 'nothing written' : `${opt.out} not written`}`,
  );
  process.exit(1);
}

console.log(
  `bench: ${cells.length} server × load pairs, ${ROUNDS} interleaved rounds of ${DURATION} s (+${WARMUP} s warm-up); ` +
    (pinned ? 'server on CPU 0, load on CPU 1 (taskset)' : 'NOT pinned (no taskset or one CPU)'),
);
for (const s of skipped) console.log(`bench: skipping ${s}`);
// A run that fails (a server that does not start, a generator that prints no result) costs that
// run only: it is reported, counted in the tables' notes, and the other runs go on.
const failed = [];
for (let round = 1; round <= ROUNDS; round++) {
  for (const cell of cells) {
    const label = `  round ${round} ${cell.server.name.padEnd(14)} ← ${cell.load.name.padEnd(16)}`;
    try {
      const srv = await startServer(cell.server);
      try {
        const r = cell.load.run(srv.port, srv.pid);
        cell.runs.push(r);
        console.log(
          `${label} ${String(Math.round(r.rps)).padStart(7)} replies/s  server CPU ${Math.round(r.srvCpu)}%`,
        );
      } finally {
        await srv.stop();
      }
    } catch (err) {
      const why = (err instanceof Error ? err.message : String(err)).trim().split('\n')[0];
      failed.push(`${cell.server.name} ← ${cell.load.name} in round ${round} (${why})`);
      console.log(`${label} failed: ${why}`);
    }
  }
}
if (failed.length > 0) skipped.push(`${failed.length} run(s) failed: ${failed.join('; ')}`);
// A run where no pair gave a reply (every figure NaN or 0) is not written over performance.md.
if (!cells.some((c) => c.runs.some((r) => Number.isFinite(r.rps) && r.rps > 0))) {
  console.error(
    `bench: no measurement succeeded (no server × load pair gave a reply in ${ROUNDS} round${ROUNDS === 1 ? '' : 's'}); ` +
      (opt['no-write'] ? 'nothing written' : `${opt.out} not written`),
  );
  process.exit(1);
}
// ---------------------------------------------------------------- client cold start

const CLIENTS = [
  { name: 'udplab client', argv: (p) => [process.execPath, bin, 'client', HOST, p] },
  { name: 'udplab client --id', argv: (p) => [process.execPath, bin, 'client', HOST, p, '--id'] },
  {
    name: 'bare Node dgram client',
    argv: (p) => [process.execPath, join(repo, 'scripts', 'bench', 'client_node_raw.mjs'), HOST, p],
  },
  {
    name: 'the lab’s Python client',
    argv: (p) => [python, join(repo, 'scripts', 'bench', 'client_py.py'), HOST, p],
    available: () => python !== null,
  },
];
const clients = CLIENTS.filter((c) => !c.available || c.available());
const cold = new Map(clients.map((c) => [c.name, []]));
{
  // udplab's own quiet server answers all of them (the C server would not echo --id's token).
  const srv = await startServer(SERVERS.find((s) => s.name === 'udplab-quiet'));
  try {
    for (let i = 0; i < COLD_RUNS; i++) {
      for (const c of clients) {
        const argv = pin(1, c.argv(String(srv.port)));
        const t0 = process.hrtime.bigint();
        const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 10_000 });
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (r.status !== 0) throw new Error(`${c.name} failed (exit ${r.status})`);
        cold.get(c.name).push(ms);
      }
    }
  } finally {
    await srv.stop();
  }
}
const coldMedian = (name) => median(cold.get(name) ?? []);
console.log(
  'cold start (median ms): ' +
    clients.map((c) => `${c.name} ${coldMedian(c.name).toFixed(1)}`).join(', '),
);

// ---------------------------------------------------------------- the report

const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
  cwd: repo,
  encoding: 'utf8',
}).stdout.trim();
const header =
  `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC at commit ${git || '?'} on ` +
  `${cpus()[0]?.model.trim() ?? 'unknown CPU'} (${cpus().length} CPUs), Node ${process.version}` +
  (python ? `, ${spawnSync(python, ['--version'], { encoding: 'utf8' }).stdout.trim()}` : '') +
  `. ${pinned ? 'Server pinned to CPU 0, load to CPU 1 (taskset).' : 'Not pinned (no taskset).'} ` +
  `${ROUNDS} interleaved round${ROUNDS === 1 ? '' : 's'} of ${DURATION} s after ${WARMUP} s of warm-up, ` +
  `${SIZE}-byte requests, ${WINDOW} in flight; medians. Command: \`npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}\`.`;
const table = renderReport({
  header,
  cells,
  rows: SERVERS,
  servers,
  loadsUsed,
  clients,
  cold,
  skipped,
});
console.log('\n' + table);
mkdirSync(join(repo, '.bench'), { recursive: true });
writeFileSync(
  join(repo, '.bench', 'results.json'),
  JSON.stringify(
    {
      cells: cells.map((c) => ({ server: c.server.name, load: c.load.name, runs: c.runs })),
      cold: Object.fromEntries(cold),
    },
    null,
    2,
  ),
);
if (!opt['no-write']) {
  const BEGIN = '<!-- bench:begin (written by npm run bench) -->';
  const END = '<!-- bench:end -->';
  const doc = existsSync(opt.out)
    ? readFileSync(opt.out, 'utf8')
    : `# Performance\n\n${BEGIN}\n${END}\n`;
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) {
    console.error(`bench: ${opt.out} has no ${BEGIN} … ${END} markers; not written`);
    process.exit(1);
  }
  writeFileSync(opt.out, doc.slice(0, a + BEGIN.length) + '\n\n' + table + '\n' + doc.slice(b));
  // Keep the page in the repository's format (npm run lint checks it).
  const prettier = join(repo, 'node_modules', '.bin', 'prettier');
  if (existsSync(prettier)) spawnSync(prettier, ['--write', opt.out], { stdio: 'ignore' });
  console.log(`bench: wrote ${opt.out}`);
}
