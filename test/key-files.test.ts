/**
 * Key files are regular files: `keygen --out` never replaces anything else (a symbolic link, a
 * FIFO, …), and `--key-file` refuses anything else before opening it (a FIFO with no writer used
 * to block the process for ever, deaf to Ctrl-C and SIGTERM). FIFOs and links are made in a
 * temporary folder; no device node is ever touched.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  lstat,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ErrorCodes, MAX_KEY_FILE_BYTES, readKeyFile } from '../src/index.js';
import { runCli, spawnUdplab } from './helpers.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'udplab-keyfiles-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A FIFO in `dir` (node has no mkfifo: the coreutils command makes it). */
function mkfifo(dir: string, name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

/**
 * Runs the real CLI and returns its exit code and output, or fails after `limitMs`: a child
 * process, because a blocked open(2) of a FIFO would hang an in-process run (and the test
 * process) for good. The child is killed by its PID, with SIGKILL: the bug made it deaf to the rest.
 */
async function runChild(
  args: string[],
  limitMs = 15_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnUdplab(args);
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), limitMs);
  });
  const code = await Promise.race([p.exited, hung]);
  clearTimeout(timer);
  if (code === 'hung') {
    p.child.kill('SIGKILL');
    await p.exited;
    assert.fail(`udplab ${args.join(' ')} still running after ${String(limitMs)} ms`);
  }
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

test('keygen --out never replaces a symbolic link or a FIFO, --force or not; nothing is written', async (t) => {
  const dir = await tempDir(t);
  const key = join(dir, 'lab.key');
  assert.equal((await runCli(['keygen', '--out', key])).code, 0);
  const original = await readFile(key, 'utf8');
  const lnk = join(dir, 'lnk');
  await symlink('lab.key', lnk);
  const fifo = mkfifo(dir, 'fifo');

  for (const [path, kind] of [
    [lnk, 'a symbolic link'],
    [fifo, 'a FIFO \\(named pipe\\)'],
  ] as const) {
    for (const force of [['--force'], []]) {
      const r = await runCli(['keygen', '--out', path, ...force]);
      assert.equal(r.code, 1, `${path} ${force.join('')}: ${r.stderr.text}`);
      assert.match(
        r.stderr.text,
        new RegExp(
          `^udplab: error: cannot write key file ${path}: it is ${kind}, not a regular file; not replacing it \\(remove it first, or choose another path\\)\\n$`,
        ),
      );
      assert.equal(r.stdout.text, '');
    }
    const j = await runCli(['keygen', '--out', path, '--force', '--json']);
    assert.equal(j.stdout.events()[0]?.code, ErrorCodes.KEY);
  }
  assert.ok((await lstat(lnk)).isSymbolicLink(), 'the link is still a link');
  assert.equal(await readlink(lnk), 'lab.key');
  assert.ok((await lstat(fifo)).isFIFO(), 'the FIFO is still a FIFO');
  assert.equal(await readFile(key, 'utf8'), original, 'the linked key is unchanged');
  assert.deepEqual((await readdir(dir)).sort(), ['fifo', 'lab.key', 'lnk'], 'no file left behind');

  // A regular file is still replaced with --force (the documented use).
  assert.equal((await runCli(['keygen', '--out', key, '--force'])).code, 0);
  assert.notEqual(await readFile(key, 'utf8'), original);
});

test('--key-file that is a FIFO with no writer: every command refuses it at once, exit 1', async (t) => {
  const dir = await tempDir(t);
  const fifo = mkfifo(dir, 'k');
  const viaLink = join(dir, 'link.key');
  await symlink('k', viaLink);
  const runs = await Promise.all([
    runChild(['server', '127.0.0.1', '0', '--key-file', fifo]),
    runChild(['client', '127.0.0.1', '9', '--key-file', fifo]),
    runChild(['bench', '127.0.0.1', '9', '-n', '1', '--key-file', fifo]),
    runChild(['demo', '--only', 'sealed', '--key-file', fifo]),
    runChild(['client', '127.0.0.1', '9', '--key-file', viaLink, '--json']),
  ]);
  for (const [i, r] of runs.entries()) {
    const path = i === 4 ? viaLink : fifo;
    assert.equal(r.code, 1, `run ${String(i)}: ${r.stderr}`);
    assert.equal(
      r.stderr,
      `udplab: error: cannot read key file ${path}: it is a FIFO (named pipe), not a regular file\n`,
    );
  }
  const json = runs[4]?.stdout.trim().split('\n').at(-1) ?? '';
  assert.equal((JSON.parse(json) as { code?: string }).code, ErrorCodes.KEY);
  assert.ok((await lstat(fifo)).isFIFO());
});

test('key files: a directory and an oversized file are refused before reading; links and white space are fine', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(readKeyFile(dir), (e: Error & { code?: string }) => {
    assert.equal(e.code, ErrorCodes.KEY);
    assert.match(e.message, /: it is a directory, not a regular file$/);
    return true;
  });

  const key = join(dir, 'lab.key');
  await runCli(['keygen', '--out', key]);
  const text = (await readFile(key, 'utf8')).trim();
  const big = join(dir, 'big.key');
  // A real key followed by a megabyte of blanks: it would parse, but no key file is that big.
  await writeFile(big, `${text}\n${' '.repeat(1 << 20)}`, { mode: 0o600 });
  await assert.rejects(readKeyFile(big), (e: Error & { code?: string }) => {
    assert.equal(e.code, ErrorCodes.KEY);
    assert.equal(
      e.message,
      `cannot read key file ${big}: it is larger than ${String(MAX_KEY_FILE_BYTES)} bytes (a key file is one line of 45 bytes)`,
    );
    return true;
  });
  const edge = join(dir, 'edge.key');
  await writeFile(edge, `${text}\r\n`.padEnd(MAX_KEY_FILE_BYTES, ' '), { mode: 0o600 });
  assert.equal((await readKeyFile(edge)).key.id, (await readKeyFile(key)).key.id, 'at the bound');
  await writeFile(edge, `${text}\r\n`.padEnd(MAX_KEY_FILE_BYTES + 1, ' '), { mode: 0o600 });
  await assert.rejects(readKeyFile(edge), { code: ErrorCodes.KEY });

  const cli = await runCli(['client', '127.0.0.1', '9', '--key-file', big]);
  assert.equal(cli.code, 1);
  assert.match(
    cli.stderr.text,
    /^udplab: error: cannot read key file .*: it is larger than 4096 bytes/,
  );

  // Reading follows a symbolic link to a regular file (only writing refuses links).
  const link = join(dir, 'link.key');
  await symlink('lab.key', link);
  assert.equal((await readKeyFile(link)).key.id, (await readKeyFile(key)).key.id);
});

test('keygen --out where no file can be made: the folder missing, a folder that takes no files, a name too long', async (t) => {
  const dir = await tempDir(t);
  const cases: [string, RegExp][] = [
    [join(dir, 'none', 'k.key'), /: its folder does not exist\n$/],
    [join(dir, 'x'.repeat(300)), /: the name is too long\n$/],
  ];
  // procfs has the folder but takes no new files (Linux).
  if ((await stat('/proc/self').catch(() => undefined)) !== undefined)
    cases.push(['/proc/udplab-test.key', /: its folder does not take new files\n$/]);
  for (const [path, why] of cases) {
    const r = await runCli(['keygen', '--out', path]);
    assert.equal(r.code, 1, path);
    assert.match(r.stderr.text, /^udplab: error: cannot write key file /);
    assert.match(r.stderr.text, why);
    assert.doesNotMatch(r.stderr.text, /ENAMETOOLONG|open '/);
  }
});
