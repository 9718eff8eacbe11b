/**
 * Network namespaces for the multi-host tests: two "hosts" joined by a veth pair, with test-only
 * addresses that exist only inside them. Needs root and iproute2; `netnsUnavailable()` says why not.
 */
import { spawnSync } from 'node:child_process';

/** Runs a command, throwing with its stderr on failure. */
function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message || r.status}`);
  return r.stdout;
}

/** Why namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) is not installed';
  const probe = `udplab-probe-${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.status !== 0) return `cannot create a network namespace: ${r.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

/** Two hosts, A and B, on one link. */
export interface TwoHosts {
  a: string;
  b: string;
  /** A's address on the link. */
  addrA: string;
  /** B's address on the link. */
  addrB: string;
  /** The argv prefix that runs a command inside a namespace. */
  exec(ns: string): string[];
  /** Deletes both namespaces (and with them the veth pair). */
  destroy(): void;
}

/**
 * Creates namespaces A and B joined by a veth pair with MTU `mtu`, addresses 10.231.N.1/24 and
 * 10.231.N.2/24 (private test addresses that exist only inside these namespaces).
 */
export function createTwoHosts(tag: string, mtu = 1500): TwoHosts {
  const n = (process.pid % 200) + 20;
  const a = `udplab-${tag}-a-${process.pid}`;
  const b = `udplab-${tag}-b-${process.pid}`;
  const addrA = `10.231.${n}.1`;
  const addrB = `10.231.${n}.2`;
  const destroy = (): void => {
    spawnSync('ip', ['netns', 'del', a]);
    spawnSync('ip', ['netns', 'del', b]);
  };
  try {
    run('ip', ['netns', 'add', a]);
    run('ip', ['netns', 'add', b]);
    const va = `ua${process.pid % 100000}`;
    const vb = `ub${process.pid % 100000}`;
    run('ip', ['link', 'add', va, 'netns', a, 'type', 'veth', 'peer', 'name', vb, 'netns', b]);
    for (const [ns, dev, addr] of [
      [a, va, addrA],
      [b, vb, addrB],
    ] as const) {
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      run('ip', ['-n', ns, 'link', 'set', dev, 'mtu', String(mtu), 'up']);
      run('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return { a, b, addrA, addrB, exec: (ns) => ['ip', 'netns', 'exec', ns], destroy };
}
