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
  /** A's and B's end of the veth pair. */
  devA: string;
  devB: string;
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
  const va = `ua${process.pid % 100000}`;
  const vb = `ub${process.pid % 100000}`;
  try {
    run('ip', ['netns', 'add', a]);
    run('ip', ['netns', 'add', b]);
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
  return {
    a,
    b,
    addrA,
    addrB,
    devA: va,
    devB: vb,
    exec: (ns) => ['ip', 'netns', 'exec', ns],
    destroy,
  };
}

/** Three hosts: A and B on two links joined by router R. */
export interface RoutedHosts {
  a: string;
  r: string;
  b: string;
  /** A's address, on the A–R link. */
  addrA: string;
  /** B's address, on the R–B link. */
  addrB: string;
  /** A's end of the A–R link. */
  devA: string;
  /** The argv prefix that runs a command inside a namespace. */
  exec(ns: string): string[];
  /** Deletes the three namespaces (and with them both veth pairs). */
  destroy(): void;
}

/**
 * Creates namespaces A, R and B: A on a link of MTU `mtuAR` to router R (10.232.N.0/24), B on a
 * link of MTU `mtuRB` to R (10.233.N.0/24), default routes through R, forwarding on in R. With
 * mtuRB below mtuAR, R answers a packet from A that does not fit the second link (DF set) with
 * ICMP "fragmentation needed", and A learns the path MTU. Test-only addresses that exist only
 * inside these namespaces.
 */
export function createRoutedHosts(tag: string, mtuAR = 1500, mtuRB = 1000): RoutedHosts {
  const n = (process.pid % 200) + 20;
  const id = process.pid % 100000;
  const [a, r, b] = ['a', 'r', 'b'].map((h) => `udplab-${tag}-${h}-${process.pid}`) as [
    string,
    string,
    string,
  ];
  const [devA, devRA, devRB, devB] = [`ra${id}`, `rr${id}`, `rs${id}`, `rb${id}`];
  const addrA = `10.232.${n}.1`;
  const addrRA = `10.232.${n}.2`;
  const addrRB = `10.233.${n}.1`;
  const addrB = `10.233.${n}.2`;
  const destroy = (): void => {
    for (const ns of [a, r, b]) spawnSync('ip', ['netns', 'del', ns]);
  };
  try {
    for (const ns of [a, r, b]) {
      run('ip', ['netns', 'add', ns]);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    run('ip', ['link', 'add', devA, 'netns', a, 'type', 'veth', 'peer', 'name', devRA, 'netns', r]);
    run('ip', ['link', 'add', devRB, 'netns', r, 'type', 'veth', 'peer', 'name', devB, 'netns', b]);
    for (const [ns, dev, addr, mtu] of [
      [a, devA, addrA, mtuAR],
      [r, devRA, addrRA, mtuAR],
      [r, devRB, addrRB, mtuRB],
      [b, devB, addrB, mtuRB],
    ] as const) {
      run('ip', ['-n', ns, 'link', 'set', dev, 'mtu', String(mtu), 'up']);
      run('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
    }
    run('ip', ['-n', a, 'route', 'add', 'default', 'via', addrRA]);
    run('ip', ['-n', b, 'route', 'add', 'default', 'via', addrRB]);
    run('ip', ['netns', 'exec', r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  } catch (err) {
    destroy();
    throw err;
  }
  return { a, r, b, addrA, addrB, devA, exec: (ns) => ['ip', 'netns', 'exec', ns], destroy };
}
