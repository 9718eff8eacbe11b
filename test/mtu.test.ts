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
    { dev: 'eth0', mtu: 1400 },
  );
  assert.deepEqual(parseRouteGet('10.1.0.2 dev wg0 src 10.1.0.1 uid 0 mtu lock 1280'), {
    dev: 'wg0',
    mtu: 1280,
  });
  assert.deepEqual(parseRouteGet('RTNETLINK answers: Network is unreachable'), {});
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

test('pathMtu: the route’s MTU wins, else the interface’s; unknown is undefined, never a throw', async () => {
  assert.deepEqual(
    await pathMtu('10.0.0.2', fakeSystem('10.0.0.2 dev eth0 mtu 1400', { eth0: 1500 })),
    {
      interface: 'eth0',
      mtu: 1400,
      source: 'route',
    },
  );
  assert.deepEqual(
    await pathMtu('10.0.0.2', fakeSystem('10.0.0.2 dev eth0 src x', { eth0: 1500 })),
    {
      interface: 'eth0',
      mtu: 1500,
      source: 'interface',
    },
  );
  // Without iproute2 a loopback address still has a known interface.
  assert.deepEqual(await pathMtu('::1', fakeSystem(new Error('ENOENT'), { lo: 65536 })), {
    interface: 'lo',
    mtu: 65536,
    source: 'interface',
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
