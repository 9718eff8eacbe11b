/**
 * What `npm pack` puts in the package: everything an installation needs to build the native addon
 * (a C file missing from `files` would make every install from the registry fall back to dgram,
 * silently) and to run the CLI.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('npm pack ships the addon sources named in binding.gyp, its build script and the CLI', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 60_000,
  });
  const [pack] = JSON.parse(out) as [{ files: { path: string }[] }];
  const files = new Set(pack.files.map((f) => f.path));
  const gyp = JSON.parse(readFileSync(`${root}native/binding.gyp`, 'utf8')) as {
    targets: { sources: string[] }[];
  };
  const sources = gyp.targets.flatMap((t) => t.sources).map((s) => `native/${s}`);
  const headers = [
    ...readFileSync(`${root}native/udplab_mmsg.c`, 'utf8').matchAll(/#include "(.+)"/g),
  ].map((m) => `native/${m[1] ?? ''}`);
  for (const f of [
    'native/binding.gyp',
    ...sources,
    ...headers,
    'scripts/build-native.mjs',
    'build/src/bin.js',
    'build/src/cli/program.js',
    'build/src/wire/sealed.js',
    'README.md',
  ])
    assert.ok(files.has(f), `${f} is not in the package`);
  assert.ok(![...files].some((f) => f.startsWith('native/build/')), 'no build output of the addon');
});
