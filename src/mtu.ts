/**
 * The MTU of the path to an address, read from the system: the kernel's routing decision
 * (`ip route get ADDR`: the interface, and a route or cached path MTU when there is one), else
 * the interface's MTU from /sys/class/net/IF/mtu. Linux only; elsewhere the lookup reports
 * that it does not know, and callers say so instead of guessing.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** The MTU of the path to an address. */
export interface PathMtu {
  /** The interface the route uses (`lo`, `eth0`, `veth1`…). */
  interface: string;
  /** Bytes. */
  mtu: number;
  /** Where the figure came from: a route / path-MTU cache entry, or the interface. */
  source: 'route' | 'interface';
}

/** What `ip route get` says that matters here. */
export interface RouteInfo {
  dev?: string;
  mtu?: number;
}

/**
 * Parses the output of `ip route get ADDR` (iproute2): `dev IF` and, when the route or the
 * path-MTU cache has one, `mtu N` (possibly `mtu lock N`).
 * @example parseRouteGet('10.0.0.2 dev eth0 src 10.0.0.1 uid 0\n    cache expires 590sec mtu 1400')
 * // { dev: 'eth0', mtu: 1400 }
 */
export function parseRouteGet(text: string): RouteInfo {
  const dev = /\bdev\s+(\S+)/.exec(text)?.[1];
  const mtuText = /\bmtu\s+(?:lock\s+)?(\d+)/.exec(text)?.[1];
  const mtu = mtuText === undefined ? undefined : Number(mtuText);
  return {
    ...(dev === undefined ? {} : { dev }),
    ...(mtu === undefined ? {} : { mtu }),
  };
}

/** How the lookup reaches the system; injected by tests. */
export interface MtuSystem {
  /** Runs `ip route get ADDR` and resolves with its stdout (rejects when `ip` fails). */
  routeGet(address: string): Promise<string>;
  /** Reads /sys/class/net/IF/mtu. */
  interfaceMtu(name: string): Promise<number>;
}

const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** The real system: iproute2 and sysfs. */
export const linuxSystem: MtuSystem = {
  routeGet: (address) =>
    new Promise((resolve, reject) => {
      execFile('ip', ['route', 'get', address], { timeout: 2000 }, (err, stdout) => {
        if (err) reject(new Error(`ip route get ${address}: ${err.message}`, { cause: err }));
        else resolve(stdout);
      });
    }),
  interfaceMtu: async (name) => {
    if (!IFNAME.test(name)) throw new RangeError(`not an interface name: ${name}`);
    const text = await readFile(`/sys/class/net/${name.split('@')[0] ?? name}/mtu`, 'utf8');
    const mtu = Number(text.trim());
    if (!Number.isSafeInteger(mtu) || mtu <= 0) throw new Error(`bad MTU '${text.trim()}'`);
    return mtu;
  },
};

function isLoopback(address: string): boolean {
  return address === '::1' || /^127\./.test(address);
}

/**
 * The MTU of the path to `address`, or undefined when the system does not tell (no
 * iproute2, not Linux). Never throws.
 * @param address - a literal IP address (IPv4-mapped IPv6 addresses are looked up as IPv4).
 * @example await pathMtu('127.0.0.1') // { interface: 'lo', mtu: 65536, source: 'interface' }
 */
export async function pathMtu(
  address: string,
  system: MtuSystem = linuxSystem,
): Promise<PathMtu | undefined> {
  const addr = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  let route: RouteInfo = {};
  try {
    route = parseRouteGet(await system.routeGet(addr));
  } catch {
    // No iproute2: loopback addresses still have a known interface.
    if (isLoopback(addr)) route = { dev: 'lo' };
  }
  if (route.dev === undefined) return undefined;
  if (route.mtu !== undefined) return { interface: route.dev, mtu: route.mtu, source: 'route' };
  try {
    return { interface: route.dev, mtu: await system.interfaceMtu(route.dev), source: 'interface' };
  } catch {
    return undefined;
  }
}
