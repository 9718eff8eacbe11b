/**
 * The EACCES bind message follows Linux's real bound on privileged ports,
 * net.ipv4.ip_unprivileged_port_start, not a fixed 1024 (src/errors.ts, docs/errors.md). The bound
 * is per network namespace, so the test moves it in a namespace of its own (2000) and binds port
 * 1500 there as `nobody`, on both backends: that port is privileged only because of the moved
 * bound. Nothing is sent; the bind fails in the kernel.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { serverBackends } from './backends.js';
import { binPath } from './helpers.js';
import { netnsUnavailable } from './netns.js';

const why =
  netnsUnavailable() ??
  (spawnSync('setpriv', ['--version']).status === 0
    ? undefined
    : 'setpriv (util-linux) is not installed');
if (why) console.log(`# skipping the moved privileged-port bound test: ${why}`);

const ns = `udplab-privport-${process.pid}`;

/** Runs a command, throwing with its stderr on failure. */
function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.status}`);
}

before(() => {
  if (why) return;
  run('ip', ['netns', 'add', ns]);
  run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  run('ip', [
    'netns',
    'exec',
    ns,
    'sh',
    '-c',
    'echo 2000 > /proc/sys/net/ipv4/ip_unprivileged_port_start',
  ]);
});
after(() => {
  if (!why) spawnSync('ip', ['netns', 'del', ns]);
});

test(
  'a bound moved to 2000: port 1500 as nobody is privileged "below 2000", on both backends',
  { skip: why ?? false },
  () => {
    for (const backend of serverBackends()) {
      // Before the fix: "permission denied" alone (1500 ≥ 1024, so the port was not suspected).
      const r = spawnSync(
        'ip',
        [
          ...['netns', 'exec', ns],
          ...['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'],
          ...[process.execPath, binPath, 'server', '127.0.0.1', '1500', '--backend', backend],
        ],
        { encoding: 'utf8', timeout: 10_000, env: { ...process.env, NO_COLOR: '1' } },
      );
      assert.equal(r.status, 1, `${backend}: ${r.stderr}`);
      assert.equal(
        r.stderr,
        'udplab: error: cannot bind 127.0.0.1:1500: permission denied: port 1500 is privileged (below 2000, net.ipv4.ip_unprivileged_port_start) and needs root or the CAP_NET_BIND_SERVICE capability\n',
        backend,
      );
    }
  },
);
