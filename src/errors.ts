/**
 * One error class for everything udplab reports, with a stable `code` per failure
 * (the undici / ws habit). Tests and callers match on `code`, never on the message.
 * The list of codes and their meaning is in docs/errors.md.
 */
import { readFileSync } from 'node:fs';

/** Every stable error code udplab can produce. */
export const ErrorCodes = {
  /** No reply came within the schedule (the lab's "Cannot receive data from server"). */
  TIMEOUT: 'UDPLAB_ERR_TIMEOUT',
  /** The operation was aborted through its AbortSignal. */
  ABORTED: 'UDPLAB_ERR_ABORTED',
  /** ICMP port unreachable: nothing listens at the server's address and port. */
  REFUSED: 'UDPLAB_ERR_REFUSED',
  /** The datagram is larger than the stack accepts (EMSGSIZE). */
  TOO_BIG: 'UDPLAB_ERR_TOO_BIG',
  /** Cannot bind: address in use, not available on this machine, or permission denied. */
  BIND: 'UDPLAB_ERR_BIND',
  /** A host name did not resolve. */
  RESOLVE: 'UDPLAB_ERR_RESOLVE',
  /** A sealed datagram did not authenticate (or a key problem). */
  AUTH: 'UDPLAB_ERR_AUTH',
  /**
   * A key file is missing, unreadable, not a regular file, too big, not a base64 256-bit key, or
   * exists already (keygen without --force; a path that is not a regular file is never replaced).
   */
  KEY: 'UDPLAB_ERR_KEY',
  /** A send failed for another reason. */
  SEND: 'UDPLAB_ERR_SEND',
  /** The socket backend asked for (`--backend native`) cannot run here: not Linux, addon not built. */
  BACKEND: 'UDPLAB_ERR_BACKEND',
  /** Invalid arguments or options (exit code 2 on the command line). */
  USAGE: 'UDPLAB_ERR_USAGE',
  /** A bug in udplab met while handling a datagram: reported as an `error` event, the server goes on. */
  INTERNAL: 'UDPLAB_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The base error of udplab: a message for people and a stable `code` for programs. */
export class UdplabError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UdplabError';
    this.code = code;
  }
}

/** A usage error: bad port, bad host, bad option value. The CLI exits 2 on it. */
export class UsageError extends UdplabError {
  constructor(message: string) {
    super(ErrorCodes.USAGE, message);
    this.name = 'UsageError';
  }
}

/** True when `err` is a Node system error with the given errno code (e.g. 'EMSGSIZE'). */
export function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

/** Linux's bound on privileged ports, per network namespace (1024 unless an administrator moved it). */
const PORT_START_SYSCTL = '/proc/sys/net/ipv4/ip_unprivileged_port_start';

/**
 * The first port an unprivileged process may bind here: Linux's
 * `net.ipv4.ip_unprivileged_port_start` (read at each call: it is per network namespace and may
 * change), or null where it cannot be read (not Linux, a kernel before 4.11, no /proc).
 */
export function unprivilegedPortStart(): number | null {
  try {
    const text = readFileSync(PORT_START_SYSCTL, 'utf8').trim();
    const start = Number(text);
    return /^[0-9]+$/.test(text) && start <= 65536 ? start : null;
  } catch {
    return null;
  }
}

/**
 * Wraps a socket bind failure into a UdplabError with a message a student can act on. Both
 * backends pass Node-style errors, so the message is the same on both (test/socket-errors.test.ts).
 * @param portStart - the first unprivileged port ({@link unprivilegedPortStart}; null: unknown,
 * taken as the traditional 1024). EACCES blames the privileged-port rule only for a port below it.
 */
export function bindError(
  err: unknown,
  host: string,
  port: number,
  portStart: number | null = unprivilegedPortStart(),
): UdplabError {
  const errno = errnoCode(err);
  const why: Record<string, string> = {
    EADDRINUSE: 'the port is already in use by another program',
    EADDRNOTAVAIL: 'the address is not one of this machine’s interfaces',
    EACCES: privilegedPort(port, portStart) ?? 'permission denied',
    EPERM: 'permission denied',
  };
  let reason = why[errno] ?? errText(err);
  // bind(2) says EINVAL for fe80::/10 without a scope id: the kernel cannot tell which link.
  if (errno === 'EINVAL' && isLinkLocalWithoutZone(host)) {
    reason = `${host} is an IPv6 link-local address: it needs a zone naming the interface, such as ${host}%eth0`;
  }
  return new UdplabError(ErrorCodes.BIND, `cannot bind ${where(host, port)}: ${reason}`, {
    cause: err,
  });
}

/**
 * Why EACCES for a port below the first unprivileged one, or undefined when the port is not
 * privileged here (port 0, or at or above the bound: a security module or the like refused it,
 * and blaming the port would mislead; test/socket-errors.test.ts).
 */
function privilegedPort(port: number, portStart: number | null): string | undefined {
  const start = portStart ?? 1024;
  if (!(port > 0 && port < start)) return undefined;
  const bound =
    portStart === null ? `below ${start}` : `below ${start}, net.ipv4.ip_unprivileged_port_start`;
  return `permission denied: port ${port} is privileged (${bound}) and needs root or the CAP_NET_BIND_SERVICE capability`;
}

/**
 * Wraps a failure to connect a socket to its peer (connect(2) on UDP sends nothing, so this is
 * the local stack's answer: no route, the wrong address family, …). The reason keeps the errno
 * code, the same on both backends.
 */
export function connectError(err: unknown, host: string, port: number): UdplabError {
  const errno = errnoCode(err);
  const why: Record<string, string> = {
    ENETUNREACH: 'no route to that network',
    EHOSTUNREACH: 'no route to that host',
  };
  const friendly = why[errno];
  let reason = friendly === undefined ? errText(err) : `${friendly} (${errno})`;
  if (errno === 'EINVAL' && isLinkLocalWithoutZone(host)) {
    reason = `${host} is an IPv6 link-local address: it needs a zone naming the interface, such as ${host}%eth0`;
  }
  return new UdplabError(ErrorCodes.SEND, `cannot connect to ${where(host, port)}: ${reason}`, {
    cause: err,
  });
}

/** `host:port`, with an IPv6 address in brackets. */
function where(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The errno code of a Node system error ('EINVAL'), or ''. */
function errnoCode(err: unknown): string {
  return err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? '') : '';
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** True for an IPv6 address in fe80::/10 written without `%zone`. */
function isLinkLocalWithoutZone(host: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(host) && !host.includes('%');
}

/** The reason of an aborted signal as an UdplabError with code ABORTED. */
export function abortError(signal: AbortSignal): UdplabError {
  const reason: unknown = signal.reason;
  return new UdplabError(ErrorCodes.ABORTED, 'aborted', { cause: reason });
}
