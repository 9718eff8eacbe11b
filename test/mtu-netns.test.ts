/**
 * A path MTU below the interface's MTU is named as the path's, with the interface's own MTU beside
 * it (the new-user trial read "vC, whose MTU is 1,000" when vC's MTU was 1,500 and 1,000 was a
 * path MTU the kernel had learned). Two ways to get `ip route get` to print `mtu 1000` on a
 * 1,500-byte veth, in network namespaces with test-only addresses:
 * - a route with an explicit `mtu 1000` attribute (deterministic): `cache mtu 1000`;
 * - path MTU discovery through a router whose second link has an MTU of 1,000: R answers a
 *   1,400-byte datagram (DF set, as Linux sends a UDP datagram that fits the first link) with
 *   ICMP "fragmentation needed", and A caches the figure: `cache expires 599sec mtu 1000`.
 * Needs root: skips otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { binPath, spawnCollect, until, type Spawned } from './helpers.js';
import {
  createRoutedHosts,
  createTwoHosts,
  netnsUnavailable,
  type RoutedHosts,
  type TwoHosts,
} from './netns.js';

const why = netnsUnavailable();
if (why) console.log(`# skipping the path-MTU wording tests: ${why}`);

/** Runs udplab in namespace `ns`; `running` collects the processes for `after`. */
function udplabIn(exec: string[], running: Spawned[], args: string[]): Spawned {
  const [cmd = 'ip', ...rest] = exec;
  const p = spawnCollect(cmd, [...rest, process.execPath, binPath, ...args]);
  running.push(p);
  return p;
}

/**
 * bigsend in namespace `server` at `addr`, the echo client in `client`; resolves with bigsend,
 * exited 0 (`--json`, or the human text).
 */
async function task3(
  exec: (ns: string) => string[],
  running: Spawned[],
  at: { server: string; client: string; addr: string },
  json: boolean,
): Promise<Spawned> {
  const args = ['bigsend', at.addr, '0', '-q', ...(json ? ['--json'] : [])];
  const s = udplabIn(exec(at.server), running, args);
  const m = await s.waitFor(json ? /"event":"listening".*"port":(\d+)/ : /Waiting at \S+:(\d+)/);
  const c = udplabIn(exec(at.client), running, [
    'echo-client',
    at.addr,
    m[1] ?? '0',
    '--idle',
    '3',
  ]);
  assert.equal(await s.exited, 0, s.stdout() + s.stderr());
  assert.equal(await c.exited, 0, c.stdout() + c.stderr());
  return s;
}

describe('a route with `mtu 1000` on a 1,500-byte veth', { skip: why ?? false }, () => {
  let hosts: TwoHosts;
  const running: Spawned[] = [];
  before(() => {
    hosts = createTwoHosts('rmtu', 1500);
    const r = spawnSync('ip', [
      ...['-n', hosts.a, 'route', 'add', `${hosts.addrB}/32`, 'dev', hosts.devA, 'mtu', '1000'],
    ]);
    assert.equal(r.status, 0, String(r.stderr));
  });
  after(() => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill();
    hosts.destroy();
  });

  test('probe names the route’s path MTU and the interface’s own MTU', async () => {
    const p = udplabIn(hosts.exec(hosts.a), running, ['probe', hosts.addrB, '9', '--local-only']);
    assert.equal(await p.exited, 0, p.stderr());
    assert.match(
      p.stdout(),
      new RegExp(
        `^Path MTU to ${hosts.addrB.replace(/\./g, '\\.')}: 1,000 bytes, the route’s \`mtu\` attribute ` +
          `\\(\`ip route get\`\\); interface ${hosts.devA}, its own MTU 1,500 bytes — ` +
          'a 65,507-byte datagram leaves as 68 IP fragments of at most 976 bytes$',
        'm',
      ),
    );
    const j = udplabIn(hosts.exec(hosts.a), running, [
      ...['probe', hosts.addrB, '9', '--local-only', '--json'],
    ]);
    assert.equal(await j.exited, 0, j.stderr());
    const s = j.events().find((e) => e.event === 'summary');
    assert.deepEqual(
      s && [s.interface, s.mtu, s.source, s.interfaceMtu, s.expiresSec, s.fragments],
      [hosts.devA, 1000, 'route', 1500, null, 68],
    );
  });

  test('bigsend’s why names the route’s path MTU and the interface’s own MTU', async () => {
    const at = { server: hosts.a, client: hosts.b, addr: hosts.addrA };
    const j = (await task3((ns) => hosts.exec(ns), running, at, true))
      .events()
      .find((e) => e.event === 'path-mtu');
    assert.deepEqual(
      j && [j.interface, j.mtu, j.source, j.interfaceMtu, j.expiresSec, j.fragments],
      [hosts.devA, 1000, 'route', 1500, null, 6],
    );
    const out = (await task3((ns) => hosts.exec(ns), running, at, false)).stdout();
    assert.match(
      out,
      new RegExp(
        `The path MTU to ${hosts.addrB.replace(/\./g, '\\.')} is 1,000 bytes: the route’s \`mtu\` attribute ` +
          `\\(read from \`ip route get\`\\)\\. The route uses ${hosts.devA}, whose own MTU is 1,500 bytes ` +
          `\\(read from /sys/class/net/${hosts.devA}/mtu\\)\\. On this path the IP layer splits each piece into 6 fragments`,
      ),
    );
    assert.doesNotMatch(out, /whose MTU is 1,000/);
  });
});

describe('a path MTU learned from ICMP “fragmentation needed”', { skip: why ?? false }, () => {
  let hosts: RoutedHosts;
  const running: Spawned[] = [];
  const routeGet = (): string =>
    spawnSync('ip', ['-n', hosts.a, 'route', 'get', hosts.addrB], { encoding: 'utf8' }).stdout;
  before(async () => {
    hosts = createRoutedHosts('lmtu', 1500, 1000);
    // 1,400 bytes fit A's link, so they leave with DF set; R cannot forward them onto the
    // 1,000-byte link and answers with ICMP "fragmentation needed". Resent until A has learned.
    const send = `const s=require('node:dgram').createSocket('udp4');s.send(Buffer.alloc(1400),9,'${hosts.addrB}',()=>setTimeout(()=>s.close(),50));`;
    const [cmd = 'ip', ...rest] = hosts.exec(hosts.a);
    await until(() => {
      if (/expires \d+sec mtu 1000/.test(routeGet())) return true;
      spawnSync(cmd, [...rest, process.execPath, '-e', send]);
      return undefined;
    }, 5000);
  });
  after(() => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill();
    hosts.destroy();
  });

  test('probe and bigsend name the learned path MTU, not the interface’s', async () => {
    const p = udplabIn(hosts.exec(hosts.a), running, [
      ...['probe', hosts.addrB, '9', '--local-only', '--json'],
    ]);
    assert.equal(await p.exited, 0, p.stderr());
    const s = p.events().find((e) => e.event === 'summary');
    assert.deepEqual(s && [s.interface, s.mtu, s.source, s.interfaceMtu], [
      hosts.devA,
      1000,
      'learned',
      1500,
    ]);
    assert.ok(typeof s?.expiresSec === 'number' && s.expiresSec > 0, String(s?.expiresSec));
    const at = { server: hosts.a, client: hosts.b, addr: hosts.addrA };
    const t = await task3((ns) => hosts.exec(ns), running, at, false);
    assert.match(
      t.stdout(),
      new RegExp(
        `The path MTU to ${hosts.addrB.replace(/\./g, '\\.')} is 1,000 bytes: learned by path MTU discovery ` +
          `\\(a router on the way answered a larger packet with ICMP “fragmentation needed”\\) and cached ` +
          `by the kernel for this destination, for \\d+ s more \\(read from \`ip route get\`\\)\\. ` +
          `The route uses ${hosts.devA}, whose own MTU is 1,500 bytes`,
      ),
    );
    assert.doesNotMatch(t.stdout(), /whose MTU is 1,000/);
  });
});
