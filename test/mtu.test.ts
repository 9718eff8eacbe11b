/** Reading the path MTU from the system: `ip route get`, then /sys/class/net/IF/mtu. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRouteGet, pathMtu, type MtuSystem } from '../src/mtu.js';

test('parses `ip route get`: the device, and a route or cached path MTU when there is one', () => {
  assert.deepEqual(
    parseRouteGet('local 127.0.0.1 dev lo src 127.0.0.1 uid 0 \n    cache <local> \n'),
    {
      dev: 'lo',
    },
  );
  assert.deepEqual(
    parseRouteGet(
      '10.0.0.2 via 10.0.0.1 dev eth0 src 10.0.0.5 uid 0 \n    cache expires 597sec mtu 1400 \n',
    ),
    { dev: 'eth0', mtu: 1400, expiresSec: 597 },
  );
  assert.deepEqual(parseRouteGet('10.1.0.2 dev wg0 src 10.1.0.1 uid 0 mtu lock 1280'), {
    dev: 'wg0',
    mtu: 1280,
  });
  assert.deepEqual(parseRouteGet('RTNETLINK answers: Network is unreachable'), {});
});

// Captured on Linux 6.18 / iproute2 6.1 in network namespaces (test/netns.ts): the line shapes
// that tell a learned path MTU (an expiry: a cached exception after ICMP "fragmentation needed"
// or "packet too big") from a route's own `mtu` attribute (no expiry) and from a plain route.
const captured = {
  plain: '10.231.250.2 dev xa29022 src 10.231.250.1 uid 0 \n    cache \n',
  learned4:
    '10.231.254.2 via 10.231.253.2 dev pa29022 src 10.231.253.1 uid 0 \n    cache expires 598sec mtu 1000 \n',
  attr4: '10.231.251.7 dev xa29022 src 10.231.250.1 uid 0 \n    cache mtu 1000 \n',
  locked4: '10.231.252.7 dev xa29022 src 10.231.250.1 uid 0 \n    cache mtu lock 1000 \n',
  plain6: 'fd00:231::2 from :: dev xa29022 proto kernel src fd00:231::1 metric 256 pref medium\n',
  learned6:
    'fd00:254::2 from :: via fd00:253::2 dev pa29022 src fd00:253::1 metric 1024 expires 599sec mtu 1280 pref medium\n',
  attr6: 'fd00:232::5 from :: dev xa29022 src fd00:231::1 metric 1024 mtu 1280 pref medium\n',
};

test('parses captured `ip route get` lines: a learned path MTU has an expiry, a route attribute none', () => {
  assert.deepEqual(parseRouteGet(captured.plain), { dev: 'xa29022' });
  assert.deepEqual(parseRouteGet(captured.learned4), {
    dev: 'pa29022',
    mtu: 1000,
    expiresSec: 598,
  });
  assert.deepEqual(parseRouteGet(captured.attr4), { dev: 'xa29022', mtu: 1000 });
  assert.deepEqual(parseRouteGet(captured.locked4), { dev: 'xa29022', mtu: 1000 });
  assert.deepEqual(parseRouteGet(captured.plain6), { dev: 'xa29022' });
  assert.deepEqual(parseRouteGet(captured.learned6), {
    dev: 'pa29022',
    mtu: 1280,
    expiresSec: 599,
  });
  assert.deepEqual(parseRouteGet(captured.attr6), { dev: 'xa29022', mtu: 1280 });
});

function fakeSystem(route: string | Error, mtus: Record<string, number>): MtuSystem {
  return {
    routeGet: () => (route instanceof Error ? Promise.reject(route) : Promise.resolve(route)),
    interfaceMtu: (name) => {
      const m = mtus[name];
      return m === undefined ? Promise.reject(new Error('no such interface')) : Promise.resolve(m);
    },
  };
}

test('pathMtu: the route’s figure wins, named learned or route, with the interface’s own MTU beside it', async () => {
  assert.deepEqual(
    await pathMtu('10.231.254.2', fakeSystem(captured.learned4, { pa29022: 1500 })),
    {
      interface: 'pa29022',
      mtu: 1000,
      source: 'learned',
      interfaceMtu: 1500,
      expiresSec: 598,
    },
  );
  assert.deepEqual(await pathMtu('10.231.251.7', fakeSystem(captured.attr4, { xa29022: 1500 })), {
    interface: 'xa29022',
    mtu: 1000,
    source: 'route',
    interfaceMtu: 1500,
    expiresSec: null,
  });
  assert.deepEqual(await pathMtu('fd00:254::2', fakeSystem(captured.learned6, { pa29022: 1500 })), {
    interface: 'pa29022',
    mtu: 1280,
    source: 'learned',
    interfaceMtu: 1500,
    expiresSec: 599,
  });
  // The route's figure stands even when the interface's cannot be read.
  assert.deepEqual(await pathMtu('10.0.0.2', fakeSystem('10.0.0.2 dev eth0 mtu 1400', {})), {
    interface: 'eth0',
    mtu: 1400,
    source: 'route',
    interfaceMtu: null,
    expiresSec: null,
  });
  assert.deepEqual(await pathMtu('10.231.250.2', fakeSystem(captured.plain, { xa29022: 1500 })), {
    interface: 'xa29022',
    mtu: 1500,
    source: 'interface',
    interfaceMtu: 1500,
    expiresSec: null,
  });
  // Without iproute2 a loopback address still has a known interface.
  assert.deepEqual(await pathMtu('::1', fakeSystem(new Error('ENOENT'), { lo: 65536 })), {
    interface: 'lo',
    mtu: 65536,
    source: 'interface',
    interfaceMtu: 65536,
    expiresSec: null,
  });
  assert.equal(await pathMtu('10.0.0.2', fakeSystem(new Error('ENOENT'), {})), undefined);
  assert.equal(await pathMtu('10.0.0.2', fakeSystem('10.0.0.2 dev gone0', {})), undefined);
});

test(
  'pathMtu on this machine: loopback (Linux with iproute2 and sysfs)',
  { skip: process.platform !== 'linux' },
  async () => {
    const lo = await pathMtu('127.0.0.1');
    assert.equal(lo?.interface, 'lo');
    assert.ok((lo?.mtu ?? 0) >= 1500);
    const mapped = await pathMtu('::ffff:127.0.0.1');
    assert.equal(mapped?.interface, 'lo');
  },
);
