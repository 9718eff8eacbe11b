/**
 * Bind and connect errors read the same on both backends (docs/native.md): the native backend
 * builds its errno errors as Node does (no `:port` for port 0), and bindError()/connectError()
 * word them for people — a link-local address without a zone, a privileged port, no route.
 * Nothing here sends a datagram: every bind fails in the kernel, connect(2) on UDP sends nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { openBackend } from '../src/backend/select.js';
import type { BackendName } from '../src/backend/types.js';
import { bindError, connectError, unprivilegedPortStart } from '../src/errors.js';
import { createServer, ErrorCodes, UdplabError } from '../src/index.js';
import { connectOptions, nativeSkipReason, serverBackends } from './backends.js';
import { binPath, rawSocket } from './helpers.js';

/** What a failure says: the message, and the fields of its Node-style cause. */
function described(err: unknown): Record<string, unknown> {
  assert.ok(err instanceof UdplabError, String(err));
  const cause = err.cause as NodeJS.ErrnoException & { address?: string; port?: number };
  return {
    code: err.code,
    message: err.message,
    cause: {
      message: cause.message,
      code: cause.code,
      errno: cause.errno,
      syscall: cause.syscall,
      address: cause.address,
      port: cause.port,
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (err) {
    return described(err);
  }
  assert.fail('expected a failure');
}

const LINK_LOCAL =
  'fe80::1 is an IPv6 link-local address: it needs a zone naming the interface, such as fe80::1%eth0';

for (const backend of serverBackends()) {
  test(`[${backend}] an IPv6 link-local address without a zone: "needs a zone", Node's own errno text underneath`, async () => {
    for (const port of [0, 7]) {
      const got = await failure(createServer({ host: 'fe80::1', port, backend }));
      assert.equal(got.code, ErrorCodes.BIND);
      assert.equal(got.message, `cannot bind [fe80::1]:${port}: ${LINK_LOCAL}`);
      // As Node's exceptionWithHostPort: `:port` only when the port is not 0.
      assert.equal(
        (got.cause as { message: string }).message,
        port === 0 ? 'bind EINVAL fe80::1' : `bind EINVAL fe80::1:${port}`,
      );
    }
  });
}

test(
  'bind failures: native gives the same message and the same cause as dgram, IPv4 and IPv6',
  { skip: nativeSkipReason ?? false },
  async (t) => {
    const v4 = await rawSocket();
    t.after(() => v4.close());
    const v6 = await rawSocket('udp6');
    t.after(() => v6.close());
    const cases = [
      { host: 'fe80::1', port: 0 },
      { host: 'fe80::1', port: 7 },
      { host: '192.0.2.1', port: 0 }, // not an address of this machine (TEST-NET-1)
      { host: '192.0.2.1', port: 9 },
      { host: '2001:db8::1', port: 0 }, // the same in IPv6's documentation prefix
      { host: '2001:db8::1', port: 9 },
      { host: '127.0.0.1', port: v4.address().port }, // in use
      { host: '::1', port: v6.address().port },
    ];
    for (const c of cases) {
      const [dgram, native] = await Promise.all(
        (['dgram', 'native'] as BackendName[]).map((backend) =>
          failure(createServer({ ...c, backend })),
        ),
      );
      assert.deepEqual(native, dgram, JSON.stringify(c));
    }
  },
);

for (const backend of serverBackends()) {
  test(`[${backend}] a connect that fails says why: the errno code and Node's text`, async () => {
    const cases = [
      // A peer of the other family: libuv's EINVAL on both (the kernel alone would differ).
      ['udp4', { address: '::1', port: 9 }, 'cannot connect to [::1]:9: connect EINVAL ::1:9'],
      [
        'udp6',
        { address: '127.0.0.1', port: 9 },
        'cannot connect to 127.0.0.1:9: connect EINVAL 127.0.0.1:9',
      ],
      [
        'udp4',
        { address: '127.0.0.1', port: 0 },
        'cannot connect to 127.0.0.1:0: port must be an integer from 1 to 65535 (got 0)',
      ],
    ] as const;
    for (const [family, to, message] of cases) {
      await assert.rejects(openBackend(backend, connectOptions(family, to)), {
        code: ErrorCodes.SEND,
        message,
      });
    }
  });
}

/** A system error as Node builds it (lib/internal/errors.js, exceptionWithHostPort). */
function nodeError(syscall: string, code: string, errno: number, address: string, port: number) {
  const err: NodeJS.ErrnoException = new Error(
    `${syscall} ${code} ${address}${port > 0 ? `:${port}` : ''}`,
  );
  return Object.assign(err, { code, errno, syscall, address, port });
}

test('connectError keeps the reason: no route (udplab bench in a namespace without one)', () => {
  // `udplab bench 192.0.2.1 1060` where there is no route printed "cannot connect to
  // 192.0.2.1:1060" and nothing more. Built from a fake error: no traffic to that address.
  const unreach = connectError(
    nodeError('connect', 'ENETUNREACH', -101, '192.0.2.1', 1060),
    '192.0.2.1',
    1060,
  );
  assert.equal(unreach.code, ErrorCodes.SEND);
  assert.equal(
    unreach.message,
    'cannot connect to 192.0.2.1:1060: no route to that network (ENETUNREACH)',
  );
  assert.equal(
    connectError(nodeError('connect', 'EHOSTUNREACH', -113, '2001:db8::1', 9), '2001:db8::1', 9)
      .message,
    'cannot connect to [2001:db8::1]:9: no route to that host (EHOSTUNREACH)',
  );
  // Any other errno: Node's text, which names it.
  assert.equal(
    connectError(nodeError('connect', 'EPERM', -1, '192.0.2.1', 9), '192.0.2.1', 9).message,
    'cannot connect to 192.0.2.1:9: connect EPERM 192.0.2.1:9',
  );
});

test('bindError: a privileged port needs root or CAP_NET_BIND_SERVICE; a zone for link-local', () => {
  const eacces = (port: number, portStart: number | null): string =>
    bindError(nodeError('bind', 'EACCES', -13, '0.0.0.0', port), '0.0.0.0', port, portStart)
      .message;
  const needs = 'needs root or the CAP_NET_BIND_SERVICE capability';
  // The bound is Linux's net.ipv4.ip_unprivileged_port_start, 1024 by default.
  assert.equal(
    eacces(80, 1024),
    `cannot bind 0.0.0.0:80: permission denied: port 80 is privileged (below 1024, net.ipv4.ip_unprivileged_port_start) and ${needs}`,
  );
  assert.equal(
    eacces(1500, 2000),
    `cannot bind 0.0.0.0:1500: permission denied: port 1500 is privileged (below 2000, net.ipv4.ip_unprivileged_port_start) and ${needs}`,
  );
  // Unknown (not Linux, no /proc): the traditional 1024, without naming the sysctl.
  assert.equal(
    eacces(80, null),
    `cannot bind 0.0.0.0:80: permission denied: port 80 is privileged (below 1024) and ${needs}`,
  );
  // At or above the bound, or port 0, the port is not why: plain "permission denied". Before the
  // fix, port 80 under a bound of 80 (or 0) was blamed on the port, and 1500 under 2000 was not.
  for (const [port, portStart] of [
    [80, 80],
    [80, 0],
    [1500, 1024],
    [0, 1024],
    [1500, null],
  ] as const) {
    assert.equal(eacces(port, portStart), `cannot bind 0.0.0.0:${port}: permission denied`);
  }
  // By default, the bound of this system (of this network namespace) when it can be read.
  const start = unprivilegedPortStart();
  if (process.platform === 'linux') {
    assert.equal(
      start,
      Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')),
    );
  }
  assert.equal(
    bindError(nodeError('bind', 'EACCES', -13, '0.0.0.0', 80), '0.0.0.0', 80).message,
    eacces(80, start),
  );
  assert.equal(
    bindError(nodeError('bind', 'EINVAL', -22, 'FEBF::9', 0), 'FEBF::9', 0).message,
    'cannot bind [FEBF::9]:0: FEBF::9 is an IPv6 link-local address: it needs a zone naming the interface, such as FEBF::9%eth0',
  );
  // fec0:: is outside fe80::/10; with a zone, EINVAL is about something else: Node's text.
  for (const host of ['fec0::1', 'fe80::1%lo']) {
    assert.equal(
      bindError(nodeError('bind', 'EINVAL', -22, host, 0), host, 0).message,
      `cannot bind [${host}]:0: bind EINVAL ${host}`,
    );
  }
});

/** Why an unprivileged process cannot be run here to meet a real EACCES, or false. */
const unprivileged = ((): string | false => {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root, to run a child as nobody';
  const start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  return start > 1 ? false : 'every port is unprivileged here (ip_unprivileged_port_start)';
})();

test(
  'a privileged port as an unprivileged user: the same EACCES message on both backends',
  { skip: unprivileged },
  () => {
    const messages = serverBackends().map((backend) => {
      // Port 1, as nobody: bind(2) refuses it (EACCES), so no server ever runs.
      const r = spawnSync(
        process.execPath,
        [binPath, 'server', '127.0.0.1', '1', '--backend', backend],
        {
          uid: 65534,
          gid: 65534,
          encoding: 'utf8',
          timeout: 10_000,
          env: { ...process.env, NO_COLOR: '1' },
        },
      );
      assert.equal(r.status, 1, r.stderr);
      return r.stderr;
    });
    for (const m of messages) {
      assert.equal(
        m,
        `udplab: error: cannot bind 127.0.0.1:1: permission denied: port 1 is privileged (below ${String(unprivilegedPortStart())}, net.ipv4.ip_unprivileged_port_start) and needs root or the CAP_NET_BIND_SERVICE capability\n`,
      );
    }
  },
);
