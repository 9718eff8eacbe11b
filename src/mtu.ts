/**
 * The MTU of the path to an address, read from the system, in two figures that can differ:
 * - the path MTU the kernel uses for that destination, from its routing decision (`ip route get
 *   ADDR`): a path MTU it learned by path MTU discovery and caches (an ICMP "fragmentation
 *   needed" / "packet too big" from a router: `cache expires 598sec mtu 1000`, RFC 1191 / RFC
 *   8201), or an `mtu` attribute of the route (`ip route add … mtu 1000`: `cache mtu 1000`);
 * - the interface's own MTU, from /sys/class/net/IF/mtu.
 * A learned 1,000 on a 1,500-byte Ethernet is the path's figure, not the interface's: the
 * wording says which (regression: test/mtu.test.ts and test/mtu-netns.test.ts). Linux only;
 * elsewhere the lookup reports that it does not know, and callers say so instead of guessing.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/**
 * Where the path MTU comes from: `learned` — path MTU discovery, cached by the kernel for this
 * destination until it expires; `route` — an `mtu` attribute of the route; `interface` — no
 * route figure, so the interface's own MTU.
 */
export type MtuSource = 'learned' | 'route' | 'interface';

/** The MTU of the path to an address. */
export interface PathMtu {
  /** The interface the route uses (`lo`, `eth0`, `veth1`…). */
  interface: string;
  /** Bytes: the MTU the kernel cuts packets to this destination to (the path MTU). */
  mtu: number;
  /** Where `mtu` came from. */
  source: MtuSource;
  /**
   * The interface's own MTU in bytes (/sys/class/net/IF/mtu); equal to `mtu` when `source` is
   * `interface`; null when it could not be read.
   */
  interfaceMtu: number | null;
  /** Seconds until a `learned` path MTU expires (`cache expires 598sec`); null otherwise. */
  expiresSec: number | null;
}

/** What `ip route get` says that matters here. */
export interface RouteInfo {
  dev?: string;
  /** The route's or the cached path MTU (`mtu N`, `mtu lock N`). */
  mtu?: number;
  /** Seconds until the cached entry expires (`expires 598sec`): a learned path MTU. */
  expiresSec?: number;
}

/**
 * Parses the output of `ip route get ADDR` (iproute2): `dev IF`, `mtu N` (possibly `mtu lock
 * N`) when the route or the path-MTU cache has one, and `expires Nsec` when the entry is a
 * cached exception — for IPv4 `    cache expires 598sec mtu 1000` under the route, for IPv6
 * `… expires 598sec mtu 1280 pref medium` on the same line. A route's own `mtu` attribute
 * has no expiry (`    cache mtu 1000`).
 * @example parseRouteGet('10.0.0.2 dev eth0 src 10.0.0.1 uid 0\n    cache expires 590sec mtu 1400')
 * // { dev: 'eth0', mtu: 1400, expiresSec: 590 }
 */
export function parseRouteGet(text: string): RouteInfo {
  const dev = /\bdev\s+(\S+)/.exec(text)?.[1];
  const mtuText = /\bmtu\s+(?:lock\s+)?(\d+)/.exec(text)?.[1];
  const mtu = mtuText === undefined ? undefined : Number(mtuText);
  const expiresText = /\bexpires\s+(-?\d+)sec\b/.exec(text)?.[1];
  const expiresSec = expiresText === undefined ? undefined : Math.max(0, Number(expiresText));
  return {
    ...(dev === undefined ? {} : { dev }),
    ...(mtu === undefined ? {} : { mtu }),
    ...(expiresSec === undefined ? {} : { expiresSec }),
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
 * @example await pathMtu('127.0.0.1')
 * // { interface: 'lo', mtu: 65536, source: 'interface', interfaceMtu: 65536, expiresSec: null }
 * @example await pathMtu('10.98.1.1') // after an ICMP "fragmentation needed" from a router
 * // { interface: 'vC', mtu: 1000, source: 'learned', interfaceMtu: 1500, expiresSec: 598 }
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
  const dev = route.dev;
  if (dev === undefined) return undefined;
  let own: number | null = null;
  try {
    own = await system.interfaceMtu(dev);
  } catch {
    own = null; // the route's figure still stands; only the interface's is unknown
  }
  if (route.mtu !== undefined) {
    // An expiry marks a cached exception: a path MTU learned from ICMP. Without one the figure
    // is the route's own `mtu` attribute.
    const learned = route.expiresSec !== undefined;
    return {
      interface: dev,
      mtu: route.mtu,
      source: learned ? 'learned' : 'route',
      interfaceMtu: own,
      expiresSec: learned ? (route.expiresSec ?? null) : null,
    };
  }
  if (own === null) return undefined;
  return { interface: dev, mtu: own, source: 'interface', interfaceMtu: own, expiresSec: null };
}
