// Builds the optional native backend of `udplab server` (native/, docs/native.md) with node-gyp.
// Runs as the package's `install` script, so it must NEVER fail an installation: whatever happens
// it prints one line and exits 0, and udplab falls back to node:dgram when the addon is missing.
// The full node-gyp output goes to native/build/build.log.
// Set UDPLAB_SKIP_NATIVE=1 to skip the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const nativeDir = join(root, 'native');
const addon = join(nativeDir, 'build', 'Release', 'udplab_mmsg.node');
const say = (text) => console.log(`udplab: ${text}`);

/** node-gyp's entry point: the one npm passes to scripts, npm's bundled one, or none (PATH). */
function findNodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  const prefix = dirname(dirname(process.execPath));
  for (const lib of ['lib/node_modules', 'node_modules']) {
    const bundled = join(prefix, lib, 'npm/node_modules/node-gyp/bin/node-gyp.js');
    if (existsSync(bundled)) return [process.execPath, bundled];
  }
  return ['node-gyp'];
}

function build() {
  if (process.env.UDPLAB_SKIP_NATIVE === '1')
    return 'native backend skipped (UDPLAB_SKIP_NATIVE=1)';
  if (process.platform !== 'linux')
    return `native backend is Linux-only; ${process.platform} uses dgram`;
  if (!existsSync(join(nativeDir, 'binding.gyp')))
    return 'native backend sources missing; using dgram';
  const [cmd, ...pre] = findNodeGyp();
  const args = [...pre, 'rebuild', '--directory', nativeDir];
  // Build against the headers of the running Node when it ships them (no download needed);
  // an npm-configured nodedir wins, as node-gyp reads npm_config_nodedir itself.
  const prefix = dirname(dirname(process.execPath));
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include/node/node_api.h'))) {
    args.push(`--nodedir=${prefix}`);
  }
  const run = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 180_000 });
  const log = `$ ${[cmd, ...args].join(' ')}\n${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}\n`;
  mkdirSync(join(nativeDir, 'build'), { recursive: true });
  writeFileSync(join(nativeDir, 'build', 'build.log'), log);
  if (run.error || run.status !== 0 || !existsSync(addon)) {
    const why = run.error ? run.error.message : `node-gyp exited with ${run.status}`;
    return `native backend not built (${why}; see native/build/build.log); udplab will use node:dgram and node:crypto`;
  }
  // Load it once in a child, so that an addon that cannot load is reported here and not later.
  const check = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)})`], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (check.status !== 0) {
    return `native backend built but does not load (${(check.stderr || '').split('\n')[0]}); udplab will use node:dgram and node:crypto`;
  }
  return 'native backend built (recvmmsg/sendmmsg batches for server and bench, ChaCha20-Poly1305 for sealed datagrams)';
}

let line;
try {
  line = build();
} catch (err) {
  line = `native backend not built (${err instanceof Error ? err.message : String(err)}); udplab will use node:dgram and node:crypto`;
}
say(line);
process.exitCode = 0;
