/**
 * The built entry point build/src/bin.js is a bundle (scripts/bundle-bin.mjs): bin.ts, main.ts
 * and the client's fast path in one file, the commander half (cli/program.js) left unbundled.
 * These tests run the real bundled process and hold it to what the unbundled main() prints
 * in-process, and check that the fast path really loads one file (the point of the bundle).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createServer } from '../src/index.js';
import { binPath, normaliseRun, repoRoot, runCli, spawnUdplab } from './helpers.js';

/** Runs the bundled CLI to its end. */
async function runBin(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnUdplab(args, env);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/**
 * The application files an ES module loader stored, from NODE_DEBUG=esm (`Storing file://… in
 * ModuleLoadMap`), relative to the repository; undefined when this Node prints no such lines.
 */
function loadedFiles(debug: string): string[] | undefined {
  const urls = [...debug.matchAll(/Storing (file:\/\/\S+)/g)].map((m) => m[1] ?? '');
  if (urls.length === 0) return undefined;
  const root = new URL(`file://${repoRoot}`).href;
  return [...new Set(urls.map((u) => (u.startsWith(root) ? u.slice(root.length) : u)))];
}

test('the built bin.js is the bundle, not tsc’s output', () => {
  const text = readFileSync(binPath, 'utf8');
  assert.ok(text.startsWith('#!/usr/bin/env node\n'), 'the shebang stays on the first line');
  assert.match(text, /Bundled by scripts\/bundle-bin\.mjs/);
  assert.doesNotMatch(text, /from ['"]\.\/cli\/main\.js['"]/, 'main.js is inside, not imported');
  assert.match(text, /import\(["']\.\/cli\/program\.js["']\)/, 'the commander half stays apart');
});

test('bundle: the client fast path loads one file; other runs load the commander half', async (t) => {
  const server = await createServer({ host: '127.0.0.1', port: 0, perDatagramEvents: false });
  t.after(() => server.close());
  const port = String(server.address.port);

  const fast = await runBin(['client', '127.0.0.1', port], { NODE_DEBUG: 'esm' });
  assert.equal(fast.code, 0, fast.stderr);
  const files = loadedFiles(fast.stderr);
  if (files === undefined) {
    t.skip('this Node prints no ES module loader debug lines (NODE_DEBUG=esm)');
    return;
  }
  // One file: no chunk shared with the lazily loaded sealed codec either (client-action.ts).
  assert.deepEqual(files, ['build/src/bin.js']);

  // `-t 0.1` changes nothing but is parsed by commander: the unbundled half takes over.
  const slow = await runBin(['client', '127.0.0.1', port, '-t', '0.1'], { NODE_DEBUG: 'esm' });
  assert.equal(slow.code, 0, slow.stderr);
  const slowFiles = loadedFiles(slow.stderr) ?? [];
  assert.ok(slowFiles.includes('build/src/cli/program.js'), slowFiles.join(', '));
  assert.ok(slowFiles.includes('build/src/cli/client.js'), slowFiles.join(', '));
  assert.ok(
    slowFiles.some((f) => f.includes('node_modules/commander/')),
    slowFiles.join(', '),
  );
});

test('bundle: prints what the unbundled main() prints, on both paths, with and without colour', async (t) => {
  const server = await createServer({ host: '127.0.0.1', port: 0, perDatagramEvents: false });
  t.after(() => server.close());
  const port = String(server.address.port);
  const colour = { NO_COLOR: '', FORCE_COLOR: '1' };
  for (const [args, env] of [
    [['client', '127.0.0.1', port], {}],
    [['client', '127.0.0.1', port, '--json', '-m', 'hello there'], {}],
    [['client', '--id=12345', '127.0.0.1', port], {}],
    [['client', '127.0.0.1', port, '--promiscuous'], colour],
    [['client', '127.0.0.1', port], colour], // picocolors, loaded from the bundle's folder
    [['client', '127.0.0.1', port, '-t', '0.1'], colour], // the commander half loads its own
    [['client', '127.0.0.1', port, '-c', '2', '-i', '0.01', '--json'], {}],
    [['client', '127.0.0.1', port, '-c', '2', '-i', '0.01'], {}],
  ] as const) {
    const label = `${args.join(' ')} ${JSON.stringify(env)}`;
    const bundled = await runBin([...args], env);
    const inProcess = await runCli([...args], { env });
    assert.equal(bundled.code, 0, `${label}: ${bundled.stderr}`);
    assert.equal(bundled.code, inProcess.code, label);
    assert.equal(normaliseRun(bundled.stdout), normaliseRun(inProcess.stdout.text), label);
    assert.equal(bundled.stderr, inProcess.stderr.text, label);
    if (env === colour) assert.ok(bundled.stdout.includes('\u001b[1m'), `${label}: in colour`);
  }
});

test('bundle: errors, help and version read as from the unbundled main()', async () => {
  for (const args of [
    ['client', '127.0.0.1', 'abc'], // usage error on the fast path
    ['client', 'bad host!', '5000', '--json'], // … with --json
    ['client', '127.0.0.1', '5000', '--id=12x'],
    ['client', '127.0.0.1', '5000', '-t', 'x'], // usage error on the commander path
    ['client', '--help'],
    ['--version'],
    ['no-such-command'],
  ]) {
    const bundled = await runBin(args);
    const inProcess = await runCli(args);
    assert.equal(bundled.code, inProcess.code, args.join(' '));
    assert.equal(normaliseRun(bundled.stdout), normaliseRun(inProcess.stdout.text), args.join(' '));
    assert.equal(bundled.stderr, inProcess.stderr.text, args.join(' '));
  }
});
