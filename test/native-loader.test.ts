/**
 * How the native backend's addon is found and refused (src/backend/native.ts, docs/native.md):
 * `UDPLAB_NATIVE_ADDON` relative to the working directory, empty as unset, only `.node` files,
 * a reason that says how to build an addon missing at the default path, and one that names any
 * other missing file. The environment is read per process, so
 * those cases run the loader in a child with its own environment and working directory.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_ADDON_PATH, loadNativeAddon, notBuiltReason } from '../src/backend/native.js';
import { repoRoot } from './helpers.js';

const linux = { skip: process.platform === 'linux' ? false : 'the native backend is Linux-only' };
const built = {
  skip: linux.skip || (existsSync(DEFAULT_ADDON_PATH) ? false : 'the addon is not built here'),
};

/** Runs loadNativeAddon() in a child; returns 'loaded' or the reason, and what else it printed. */
function loadInChild(
  addonEnv: string | undefined,
  cwd: string,
): { result: string; stdout: string } {
  const url = new URL('../src/backend/native.js', import.meta.url).href;
  const script = `
    const { loadNativeAddon } = await import(${JSON.stringify(url)});
    const load = loadNativeAddon();
    console.log('RESULT ' + ('addon' in load ? 'loaded' : load.reason));`;
  const env = { ...process.env };
  delete env.UDPLAB_NATIVE_ADDON;
  if (addonEnv !== undefined) env.UDPLAB_NATIVE_ADDON = addonEnv;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const result = /^RESULT (.*)$/m.exec(r.stdout)?.[1];
  assert.ok(result !== undefined, r.stdout);
  return { result, stdout: r.stdout };
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'udplab-loader-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('UDPLAB_NATIVE_ADDON: a relative path is taken from the working directory', linux, (t) => {
  const dir = tempDir(t);
  // Before the fix it was taken from build/src/backend, so the reason named a file there.
  assert.equal(
    loadInChild('sub/udplab_mmsg.node', dir).result,
    `${join(dir, 'sub/udplab_mmsg.node')}, named by UDPLAB_NATIVE_ADDON, does not exist`,
  );
});

test(
  'UDPLAB_NATIVE_ADDON: ./native/build/Release/udplab_mmsg.node from the repo root loads',
  built,
  () => {
    assert.equal(loadInChild('./native/build/Release/udplab_mmsg.node', repoRoot).result, 'loaded');
  },
);

test('UDPLAB_NATIVE_ADDON: an empty value is the same as unset', linux, () => {
  const unset = loadInChild(undefined, repoRoot).result;
  const empty = loadInChild('', repoRoot).result;
  assert.equal(empty, unset);
  // Not Node's "The argument 'id' must be a non-empty string", nor a silent fallback.
  assert.doesNotMatch(empty, /argument 'id'/);
});

test(
  'UDPLAB_NATIVE_ADDON: anything but a .node file is refused, never run as JavaScript',
  linux,
  (t) => {
    const dir = tempDir(t);
    const marker = join(dir, 'ran');
    // Looks enough like the addon that require() would have accepted it after running it.
    const evil = `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');
module.exports = { open() {}, connect() {}, BATCH: 64 };\n`;
    writeFileSync(join(dir, 'evil.js'), evil);
    writeFileSync(join(dir, 'secret.key'), 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n');
    // require('x/missing.node') would try x/missing.node.js, and x/dir.node/index.js for a folder.
    writeFileSync(join(dir, 'missing.node.js'), evil);
    mkdirSync(join(dir, 'dir.node'));
    writeFileSync(join(dir, 'dir.node', 'index.js'), evil);
    const named = 'named by UDPLAB_NATIVE_ADDON,';
    for (const [name, reason] of [
      ['evil.js', `${join(dir, 'evil.js')}, ${named} is not a .node addon`],
      ['secret.key', `${join(dir, 'secret.key')}, ${named} is not a .node addon`],
      ['missing.node', `${join(dir, 'missing.node')}, ${named} does not exist`],
      ['dir.node', `${join(dir, 'dir.node')}, ${named} is not a .node addon (not a file)`],
    ] as const) {
      const { result, stdout } = loadInChild(join(dir, name), dir);
      assert.equal(result, reason, name);
      assert.equal(existsSync(marker), false, `${name} was run: ${stdout}`);
    }
    // A .node file that is not a shared object fails to load, and says so.
    writeFileSync(join(dir, 'fake.node'), evil);
    assert.match(
      loadInChild(join(dir, 'fake.node'), dir).result,
      /^the addon cannot load: .*fake\.node: invalid ELF header$/,
    );
    assert.equal(existsSync(marker), false);
  },
);

test(
  'a missing file the caller named: the reason names it and says it does not exist, not how to build',
  linux,
  (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'build/Release/udplab_mmsg.node');
    // Even with a build.log beside it: the build hint is for the default path only.
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'build/build.log'), 'gyp ERR! build error\n');
    // Before the fix: "the addon was not built at install (… is missing; see …/build.log)".
    const load = loadNativeAddon(file);
    assert.ok('reason' in load);
    assert.equal(load.reason, `${file} does not exist`);
    // Relative to the working directory, as UDPLAB_NATIVE_ADDON is.
    const relative = loadNativeAddon('no/such/udplab_mmsg.node');
    assert.ok('reason' in relative);
    assert.equal(
      relative.reason,
      `${join(process.cwd(), 'no/such/udplab_mmsg.node')} does not exist`,
    );
  },
);

test('an addon never built: the reason points at build.log when the build ran, else says how to build', (t) => {
  const noLog = tempDir(t);
  // As after `UDPLAB_SKIP_NATIVE=1 npm ci` or `--ignore-scripts`: no build, so no log.
  assert.equal(
    notBuiltReason(join(noLog, 'build/Release/udplab_mmsg.node')),
    `the addon was not built at install (${join(noLog, 'build/Release/udplab_mmsg.node')} is missing; build it with \`npm run build:native\`)`,
  );
  const withLog = tempDir(t);
  mkdirSync(join(withLog, 'build'));
  writeFileSync(join(withLog, 'build/build.log'), 'gyp ERR! build error\n');
  assert.equal(
    notBuiltReason(join(withLog, 'build/Release/udplab_mmsg.node')),
    `the addon was not built at install (${join(withLog, 'build/Release/udplab_mmsg.node')} is missing; see ${join(withLog, 'build/build.log')})`,
  );
});
