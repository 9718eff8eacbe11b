/**
 * The benchmark scripts (scripts/bench.mjs, scripts/cold-start.mjs) refuse bad arguments with one
 * line on stderr and exit 2, before they look for the yardsticks, gcc or the build: never a stack
 * trace, never a run on NaN that writes an empty table over docs/performance.md. No load is run:
 * bench gets `--shared` pointing at an empty folder, so a check that came after the yardstick
 * check would fail with exit 1 instead.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.js';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runScript(script: string, args: string[]): Run {
  const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', script), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh temporary folder, removed after the test. */
function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'udplab-bench-scripts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A folder of stand-in yardsticks (C programs that do nothing, empty scripts, `scripts` overriding
 * some) and a performance.md with the markers, to check that it is left alone.
 */
function fakeYardsticks(
  t: { after: (fn: () => void) => void },
  scripts: Record<string, string> = {},
): { dir: string; out: string; before: string } {
  const dir = tempDir(t);
  for (const f of ['udpload.c', 'server_c_mmsg.c']) {
    writeFileSync(join(dir, f), 'int main(void) { return 0; }\n');
  }
  for (const f of ['server_node_raw.mjs', 'server_py.py', 'server_py_print.py']) {
    writeFileSync(join(dir, f), scripts[f] ?? '');
  }
  const out = join(dir, 'performance.md');
  const before =
    '# P\n\n<!-- bench:begin (written by npm run bench) -->\nold\n<!-- bench:end -->\n';
  writeFileSync(out, before);
  return { dir, out, before };
}

/** Exit 2, nothing on stdout, exactly one line on stderr matching `line`. */
function assertUsageError(r: Run, line: RegExp): void {
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] ?? '', line);
  assert.doesNotMatch(r.stderr, /\bat .*:\d+:\d+/); // no stack frame
}

const BENCH_CASES: [string[], RegExp][] = [
  [['--rounds', 'abc'], /^bench: --rounds must be an integer from 1 to 100 \(got "abc"\)$/],
  [['--rounds', '0'], /^bench: --rounds must be an integer from 1 to 100 \(got "0"\)$/],
  [['--rounds', '2.5'], /^bench: --rounds must be an integer/],
  [['--rounds', '101'], /^bench: --rounds must be an integer/],
  [['--rounds', '1', '--duration', 'abc'], /^bench: --duration must be a number of seconds/],
  [['--duration', '0'], /^bench: --duration must be a number of seconds more than 0/],
  [['--duration', '61'], /^bench: --duration .*at most 60 \(got "61"\)$/],
  [['--warmup', 'abc'], /^bench: --warmup must be a number of seconds from 0 to 60/],
  [['--warmup=-1'], /^bench: --warmup must be a number of seconds/],
  [['--cold', '0'], /^bench: --cold must be an integer from 1 to 1000 \(got "0"\)$/],
  [['--cold', '1e3'], /^bench: --cold must be an integer/],
  // Checked even with --quick, which overrides the figures: a typo is reported, not ignored.
  [['--quick', '--rounds', 'x'], /^bench: --rounds must be an integer/],
  [
    ['--baseline', '/nonexistent/bin.js'],
    /^bench: --baseline: no such file: \/nonexistent\/bin\.js$/,
  ],
  [['--baseline', tmpdir()], /^bench: --baseline: not a file: /],
  [['--frobnicate'], /^bench: Unknown option '--frobnicate' \(--help lists the options\)$/],
  [['--rounds'], /^bench: Option '--rounds <value>' argument missing/],
  [['--rounds', '--quick'], /^bench: Option '--rounds' argument is ambiguous\./],
  [['stray'], /^bench: Unexpected argument 'stray'/],
];

for (const [args, line] of BENCH_CASES) {
  test(`bench.mjs ${args.join(' ')}: one line, exit 2, nothing written`, (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'performance.md');
    const r = runScript('bench.mjs', ['--shared', join(dir, 'none'), '--out', out, ...args]);
    assertUsageError(r, line);
    assert.equal(existsSync(out), false);
  });
}

test('bench.mjs --help and -h print the usage and exit 0', () => {
  for (const flag of ['--help', '-h']) {
    const r = runScript('bench.mjs', [flag, '--shared', '/nonexistent']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Usage: npm run bench/);
    assert.match(r.stdout, /--rounds N/);
    assert.equal(r.stderr, '');
  }
});

test('bench.mjs with no server × load pair left says why, exits 1 and leaves --out alone', (t) => {
  // gcc builds the (here empty) C yardsticks before the pairs are known.
  if (spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status !== 0) {
    t.skip('no gcc');
    return;
  }
  const { dir, out, before } = fakeYardsticks(t);
  // node-raw answers plain requests only; udplab-bench-id sends IDs: no pair, nothing started.
  const r = runScript('bench.mjs', [
    '--shared',
    dir,
    '--out',
    out,
    '--only',
    'node-raw',
    '--loads',
    'udplab-bench-id',
  ]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^bench: nothing to measure: no server × load pair .* not written\n$/);
  assert.equal(readFileSync(out, 'utf8'), before);
});

test('bench.mjs: a server that will not start costs its run, is reported in a line, and nothing is written', (t) => {
  if (spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status !== 0) {
    t.skip('no gcc');
    return;
  }
  // The bare Node server dies at once.
  const { dir, out, before } = fakeYardsticks(t, { 'server_node_raw.mjs': 'process.exit(3);\n' });
  const r = runScript('bench.mjs', [
    '--shared',
    dir,
    '--out',
    out,
    '--only',
    'node-raw',
    '--loads',
    'udplab-bench',
    '--quick',
  ]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stdout,
    /round 1 node-raw +← udplab-bench +failed: node-raw did not start: it exited \(code 3\) before answering\n/,
  );
  assert.match(r.stderr, /^bench: no measurement succeeded .* not written\n$/);
  assert.doesNotMatch(r.stdout + r.stderr, /\bat .*:\d+:\d+/); // no stack frame
  assert.equal(readFileSync(out, 'utf8'), before);
});

const COLD_CASES: [string[], RegExp][] = [
  [['--runs', 'abc'], /^cold-start: --runs must be an integer from 1 to 1000 \(got "abc"\)$/],
  [['--runs', '0'], /^cold-start: --runs must be an integer from 1 to 1000 \(got "0"\)$/],
  [['--runs', '1001'], /^cold-start: --runs must be an integer/],
  [
    ['--baseline', '/nonexistent/bin.js'],
    /^cold-start: --baseline: no such file: \/nonexistent\/bin\.js$/,
  ],
  [['--frobnicate'], /^cold-start: Unknown option '--frobnicate' \(--help lists the options\)$/],
  [['stray'], /^cold-start: Unexpected argument 'stray'/],
];

for (const [args, line] of COLD_CASES) {
  test(`cold-start.mjs ${args.join(' ')}: one line, exit 2`, () => {
    assertUsageError(runScript('cold-start.mjs', args), line);
  });
}

test('cold-start.mjs --help and -h print the usage and exit 0', () => {
  for (const flag of ['--help', '-h']) {
    const r = runScript('cold-start.mjs', [flag]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Usage: npm run bench:cold/);
    assert.match(r.stdout, /--baseline BIN/);
    assert.equal(r.stderr, '');
  }
});

test('cold-start.mjs: a baseline client that fails is one line and exit 1', (t) => {
  // One server on 127.0.0.1 and one request from each client: a run of 1, not a measurement.
  const dir = tempDir(t);
  const baseline = join(dir, 'bin.js');
  writeFileSync(baseline, 'process.exit(3);\n');
  const r = runScript('cold-start.mjs', ['--runs', '1', '--baseline', baseline]);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(
    r.stderr,
    `cold-start: the baseline client (${baseline}) failed (exit 3); ` +
      'is it the build/src/bin.js of a built udplab checkout?\n',
  );
  assert.equal(r.stdout, '');
});
