/**
 * Task 1's point about binding, across two hosts (network namespaces A and B joined by a veth):
 * bound to 127.0.0.1 → unreachable from B; bound to the veth address → reachable from B but not at
 * 127.0.0.1; bound to 0.0.0.0 or "" → reachable at either address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnCollect, binPath } from './helpers.js';
import { createTwoHosts, netnsUnavailable, type TwoHosts } from './netns.js';

const why = netnsUnavailable();
if (why) console.log(`# skipping the multi-host binding tests: ${why}`);

describe('binding across two hosts', { skip: why ?? false }, () => {
  let hosts: TwoHosts;
  before(() => {
    hosts = createTwoHosts('bind');
  });
  after(() => hosts.destroy());

  async function serverIn(
    ns: string,
    host: string,
  ): Promise<{ port: number; stop: () => Promise<unknown> }> {
    const p = spawnCollect(hosts.exec(ns)[0] ?? 'ip', [
      ...hosts.exec(ns).slice(1),
      process.execPath,
      binPath,
      'server',
      host,
      '0',
      '--json',
    ]);
    const m = await p.waitFor(/"port":(\d+)/);
    return {
      port: Number(m[1]),
      stop: () => {
        p.child.kill('SIGTERM');
        return p.exited;
      },
    };
  }

  async function clientIn(ns: string, host: string, port: number): Promise<number | null> {
    const argv = [
      ...hosts.exec(ns).slice(1),
      process.execPath,
      binPath,
      'client',
      host,
      String(port),
      '--timeout',
      '0.1',
      '--max-delay',
      '0.2',
    ];
    const p = spawnCollect('ip', argv);
    return p.exited;
  }

  const cases: { bind: (h: TwoHosts) => string; fromB: number; fromLoopbackOfA: number }[] = [
    { bind: () => '127.0.0.1', fromB: 1, fromLoopbackOfA: 0 },
    { bind: (h) => h.addrA, fromB: 0, fromLoopbackOfA: 1 },
    { bind: () => '0.0.0.0', fromB: 0, fromLoopbackOfA: 0 },
    { bind: () => '', fromB: 0, fromLoopbackOfA: 0 },
  ];
  for (const c of cases) {
    test(`server bound to ${JSON.stringify(c.bind({ addrA: 'A' } as TwoHosts))}`, async () => {
      const server = await serverIn(hosts.a, c.bind(hosts));
      try {
        assert.equal(
          await clientIn(hosts.b, hosts.addrA, server.port),
          c.fromB,
          'client on B sending to A’s veth address',
        );
        assert.equal(
          await clientIn(hosts.a, '127.0.0.1', server.port),
          c.fromLoopbackOfA,
          'client on A sending to 127.0.0.1',
        );
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  }
});
