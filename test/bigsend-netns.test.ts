/**
 * Task 3 across two hosts (network namespaces A and B joined by a veth of MTU 1,500): the 16
 * pieces of 5,000 bytes leave A as 4 IP fragments each, are reassembled in B, echoed, and all come
 * back; bigsend reports the veth's MTU, 1,500, read from the system. Needs root: skips otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { binPath, spawnCollect, type Spawned } from './helpers.js';
import { createTwoHosts, netnsUnavailable, type TwoHosts } from './netns.js';

const why = netnsUnavailable();
if (why) console.log(`# skipping the two-host Task 3 test: ${why}`);

/** The kernel's IP counters of a namespace (/proc/net/snmp is per network namespace). */
function ipCounters(exec: string[]): Record<string, number> {
  const [cmd = 'ip', ...rest] = exec;
  const text = spawnSync(cmd, [...rest, 'cat', '/proc/net/snmp'], { encoding: 'utf8' }).stdout;
  const [names, values] = text.split('\n').filter((l) => l.startsWith('Ip:'));
  const keys = names?.split(/\s+/).slice(1) ?? [];
  const nums = values?.split(/\s+/).slice(1).map(Number) ?? [];
  return Object.fromEntries(keys.map((k, i) => [k, nums[i] ?? 0]));
}

describe('Task 3 across two network namespaces, veth MTU 1500', { skip: why ?? false }, () => {
  let hosts: TwoHosts;
  const running: Spawned[] = [];
  before(() => {
    hosts = createTwoHosts('big', 1500);
  });
  after(() => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill();
    hosts.destroy();
  });

  const udplabIn = (ns: string, args: string[]): Spawned => {
    const [cmd = 'ip', ...rest] = hosts.exec(ns);
    const p = spawnCollect(cmd, [...rest, process.execPath, binPath, ...args]);
    running.push(p);
    return p;
  };

  test('the 16 pieces are fragmented on the way and still all echo back; MTU 1500 reported', async () => {
    const before = { a: ipCounters(hosts.exec(hosts.a)), b: ipCounters(hosts.exec(hosts.b)) };
    const server = udplabIn(hosts.a, ['bigsend', hosts.addrA, '0', '--json']);
    const m = await server.waitFor(/"event":"listening".*"port":(\d+)/);
    const client = udplabIn(hosts.b, ['echo-client', hosts.addrA, m[1] ?? '0', '--idle', '3']);
    assert.equal(await server.exited, 0, server.stdout() + server.stderr());
    assert.equal(await client.exited, 0, client.stdout() + client.stderr());
    const ev = server.events();
    const summary = ev.find((e) => e.event === 'summary');
    assert.deepEqual(summary && [summary.echoed, summary.bytes, summary.missing], [16, 80000, []]);
    assert.equal(ev.filter((e) => e.event === 'too-big').length, 1);
    const path = ev.find((e) => e.event === 'path-mtu');
    assert.equal(path?.mtu, 1500);
    assert.match(String(path?.interface), /^ua\d+$/, 'the veth on A, not lo');
    assert.equal(path?.fragments, 4, '5,008 bytes of UDP in fragments of 1,480');
    assert.equal(path?.fragmentBytes, 1480);
    // The kernel's own counters: A cut 16 × 4 fragments, B reassembled 16 datagrams (and the
    // echoes the other way round).
    const delta = (ns: 'a' | 'b', key: string): number =>
      (ipCounters(hosts.exec(ns === 'a' ? hosts.a : hosts.b))[key] ?? 0) - (before[ns][key] ?? 0);
    assert.ok(delta('a', 'FragCreates') >= 64, `A FragCreates +${delta('a', 'FragCreates')}`);
    assert.ok(delta('b', 'ReasmOKs') >= 16, `B ReasmOKs +${delta('b', 'ReasmOKs')}`);
    assert.ok(delta('a', 'ReasmOKs') >= 16, `A ReasmOKs +${delta('a', 'ReasmOKs')}`);
  });

  test('probe from B sees the same limit and the veth’s MTU', async () => {
    const p = udplabIn(hosts.b, ['probe', hosts.addrA, '9', '--local-only', '--json']);
    assert.equal(await p.exited, 0, p.stderr());
    const summary = p.events().find((e) => e.event === 'summary');
    assert.deepEqual(
      summary && [summary.localMax, summary.mtu, summary.fragments],
      [65507, 1500, 45],
    );
  });
});
