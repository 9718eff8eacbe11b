/**
 * Hosts and ports as users type them, turned into what sockets need.
 * The empty host `""` means all interfaces, as Python's socket treats `''` (the lab uses it).
 */
import { ErrorCodes, UdplabError, UsageError } from './errors.js';
import type { Endpoint } from './events.js';

/** `udp4` or `udp6`. */
export type Family = 'udp4' | 'udp6';

/** A resolved host: a literal IP address and the socket type it needs. */
export interface ResolvedHost {
  address: string;
  family: Family;
}

/**
 * Parses a port number.
 * @param allowZero - true for binding (0 lets the OS choose), false for a destination.
 * @throws UsageError when it is not an integer in range.
 */
export function parsePort(text: string, allowZero: boolean): number {
  const port = /^[0-9]+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  const min = allowZero ? 0 : 1;
  if (!Number.isInteger(port) || port < min || port > 65535) {
    throw new UsageError(`invalid port '${text}': expected an integer from ${min} to 65535`);
  }
  return port;
}

/** node:net's IPv4 literal (lib/internal/net.js): four decimal octets, no leading zeros. */
const V4_SEG = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const IPV4 = new RegExp(`^${V4_SEG}(?:\\.${V4_SEG}){3}$`);

/** Removes the brackets of `[::1]`. */
function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Resolves a host for binding: `""` → 0.0.0.0 (all IPv4 interfaces), `::` → all IPv6
 * (and IPv4-mapped) interfaces, a literal as it is, a name through the system resolver.
 * @throws UdplabError RESOLVE when a name does not resolve; UsageError for malformed input.
 */
export async function resolveHost(host: string): Promise<ResolvedHost> {
  const h = unbracket(host.trim());
  if (h === '') return { address: '0.0.0.0', family: 'udp4' };
  // A dotted quad is recognised here with node:net's own IPv4 pattern; anything else asks
  // node:net, imported only then (its import costs ~1.5 ms of every start: docs/performance.md).
  const kind = IPV4.test(h) ? 4 : (await import('node:net')).isIP(h);
  if (kind === 4) return { address: h, family: 'udp4' };
  if (kind === 6) return { address: await zoneByName(notIpv4Compatible(h, host)), family: 'udp6' };
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?$/.test(h) || h.length > 253) {
    throw new UsageError(`invalid host '${host}': expected an IP address or a host name`);
  }
  try {
    // IPv4 first, as the lab's AF_INET programs do, so `localhost` is 127.0.0.1.
    // Loaded only for names: literal addresses (the common case) skip its start-up cost.
    const { lookup } = await import('node:dns/promises');
    const r = await lookup(h, { order: 'ipv4first' });
    if (r.family === 6)
      return { address: notIpv4Compatible(r.address, host, true), family: 'udp6' };
    return { address: r.address, family: 'udp4' };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UdplabError(ErrorCodes.RESOLVE, `cannot resolve host '${host}'`, { cause: err });
  }
}

/**
 * Names a numeric zone by its interface (`fe80::1%2` → `fe80::1%eth0`), as Node names senders: then a
 * reply from `fe80::1%eth0` is the server's, and the socket gets the zone at all (on Unix, libuv's
 * uv_ip6_addr takes only names: if_nametoindex("2") is 0, and a zone of 0 is silently ignored). The
 * index is looked up in /sys/class/net (Linux), else among the link-local addresses' scope IDs; an
 * index no interface has, and 0 (no zone), stay as typed.
 */
async function zoneByName(address: string): Promise<string> {
  const m = /^([^%]*)%([0-9]+)$/.exec(address);
  const index = Number(m?.[2] ?? 0);
  if (m === null || !(index > 0)) return address;
  const name = (await interfaceByIndex(index)) ?? '';
  return name === '' ? address : `${m[1] ?? ''}%${name}`;
}

/** The name of the interface with this index, or undefined. */
async function interfaceByIndex(index: number): Promise<string | undefined> {
  const { readdir, readFile } = await import('node:fs/promises');
  const names = await readdir('/sys/class/net').catch(() => [] as string[]);
  for (const name of names) {
    const text = await readFile(`/sys/class/net/${name}/ifindex`, 'latin1').catch(() => '');
    if (Number(text.trim()) === index) return name;
  }
  // Elsewhere (or without /sys): a link-local address's scope ID is its interface's index.
  const { networkInterfaces } = await import('node:os');
  for (const [name, list] of Object.entries(networkInterfaces())) {
    if (list?.some((i) => i.family === 'IPv6' && i.scopeid === index) === true) return name;
  }
  return undefined;
}

/**
 * Refuses an IPv4-compatible IPv6 address (`::a.b.c.d`, the rest of ::/96 but `::` and `::1`),
 * deprecated since RFC 4291: `::127.0.0.1` reads like loopback, but it is `::7f00:1`, an IPv6
 * address that Linux sends out through the default IPv6 route, to another machine. The same for
 * the IPv4-translated form of RFC 2765 (`::ffff:0:a.b.c.d`), one `0:` away from the mapped form.
 * @param asTyped - what the user wrote; `resolved` when it is a name that resolved to `address`.
 * @returns the address when it is not one.
 * @throws UsageError naming the IPv4 address it embeds and the two spellings that reach that one
 * (none for 0.0.0.0/8, which no one can be sent to).
 */
function notIpv4Compatible(address: string, asTyped: string, resolved = false): string {
  const c = canonicalAddress(address).split('%')[0] ?? '';
  const translated = /^::ffff:0:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(c);
  const m = translated ?? /^::(?:([0-9a-f]{1,4}):)?([0-9a-f]{1,4})$/.exec(c);
  if (m === null || c === '::1') return address;
  const hi = Number.parseInt(m[1] ?? '0', 16);
  const lo = Number.parseInt(m[2] ?? '0', 16);
  const v4 = `${String(hi >> 8)}.${String(hi & 0xff)}.${String(lo >> 8)}.${String(lo & 0xff)}`;
  const typed = unbracket(asTyped.trim());
  const what = resolved
    ? `'${asTyped}' resolves to ${c},`
    : typed === c
      ? `'${asTyped}' is`
      : `'${asTyped}' is ${c},`;
  const instead =
    hi >> 8 === 0 ? '' : `: for ${v4}, write ${v4}, or ::ffff:${v4} for a dual-stack socket`;
  throw new UsageError(
    `${what} ${translated === null ? 'an IPv4-compatible IPv6 address (deprecated, RFC 4291)' : 'an IPv4-translated IPv6 address (RFC 2765, obsolete)'}, which is routed as IPv6, not to ${v4}${instead}`,
  );
}

/** Parses `HOST:PORT`, `[V6]:PORT` or `:PORT` (all interfaces). */
export function parseHostPort(text: string, allowZero: boolean): { host: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):([^:]+)$/.exec(text.trim());
  if (!m) throw new UsageError(`invalid address '${text}': expected HOST:PORT or [IPv6]:PORT`);
  return { host: m[1] ?? m[2] ?? '', port: parsePort(m[3] ?? '', allowZero) };
}

/** The UDP payload limit for a family: 65,535 − 20 (IPv4 header) − 8 = 65,507; over IPv6 65,535 − 8 = 65,527. */
export function maxPayload(family: Family): number {
  return family === 'udp6' ? 65527 : 65507;
}

/**
 * One spelling per address, so that aliases compare equal: IPv6 in its canonical form
 * (`0:0:0:0:0:0:0:1` → `::1`), and an IPv4-mapped IPv6 address as the IPv4 one it maps
 * (`::ffff:127.0.0.1` and `::ffff:7f00:1` → `127.0.0.1`, `::ffff:0.0.0.0` → `0.0.0.0`): a dual-stack
 * socket bound or sent to a mapped address acts on the IPv4 one. A zone stays as written after
 * the canonical address (`FE80:0::1%eth0` → `fe80::1%eth0`), as Node names link-local peers.
 * @example
 * canonicalAddress('::ffff:0:0') // '0.0.0.0'
 */
export function canonicalAddress(address: string): string {
  if (!address.includes(':')) return address;
  const pct = address.indexOf('%');
  let a: string;
  try {
    // The global URL parser canonicalises IPv6 (RFC 5952) at no import cost; it takes no zone.
    a = new URL(`udp://[${pct < 0 ? address : address.slice(0, pct)}]`).hostname.slice(1, -1);
  } catch {
    return address;
  }
  if (pct >= 0) return a + address.slice(pct);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
  if (mapped === null) return a;
  const hi = Number.parseInt(mapped[1] ?? '0', 16);
  const lo = Number.parseInt(mapped[2] ?? '0', 16);
  return `${String(hi >> 8)}.${String(hi & 0xff)}.${String(lo >> 8)}.${String(lo & 0xff)}`;
}

/**
 * Where Linux delivers a datagram sent to `address`: the unspecified address (`0.0.0.0`, `::`,
 * what `""` resolves to, and their aliases such as `::ffff:0.0.0.0` or `0:0::0`) means this
 * machine, and the kernel sends to loopback (ip_route_output takes 127.0.0.1, ::1); a reply then
 * comes from there. Anything else is itself, canonical ({@link canonicalAddress}) in its own
 * family: an IPv4-mapped address stays IPv6 (`::ffff:a.b.c.d`), as a dual-stack socket names it.
 * @example
 * destinationOf('::ffff:0.0.0.0') // '::ffff:127.0.0.1'
 */
export function destinationOf(address: string): string {
  if (!address.includes(':')) return address === '0.0.0.0' ? '127.0.0.1' : address;
  const c = canonicalAddress(address);
  if (c === '::') return '::1';
  if (c.includes(':')) return c;
  return `::ffff:${c === '0.0.0.0' ? '127.0.0.1' : c}`;
}

/**
 * True when two endpoints are the same socket address, aliases ({@link canonicalAddress}) counting
 * as the same: an IPv4 one and its IPv4-mapped IPv6 form (`::ffff:127.0.0.1`, as a dual-stack
 * socket names IPv4 peers), or two spellings of one IPv6 address.
 * @example
 * sameEndpoint({ address: '::ffff:127.0.0.1', port: 5 }, { address: '127.0.0.1', port: 5 }) // true
 */
export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && canonicalAddress(a.address) === canonicalAddress(b.address);
}
