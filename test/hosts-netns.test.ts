/**
 * A host name that resolves to an IPv4-compatible or IPv4-translated IPv6 address (both routed as
 * IPv6, off the machine) is refused like the address itself, saying which name resolved to what.
 * `ip netns exec` puts /etc/netns/NS/hosts in place of /etc/hosts, so the names exist only inside
 * a namespace this test creates; resolveHost is all that runs there (nothing is sent). Needs root
 * (skipped with the reason otherwise).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { netnsUnavailable } from './netns.js';

const why = netnsUnavailable();
if (why) console.log(`# skipping the hosts-file test: ${why}`);

const NS = `udplab-hosts-${process.pid}`;
const ETC = `/etc/netns/${NS}`;
const ADDRESS = new URL('../src/address.js', import.meta.url).href;

describe('names that resolve to IPv4-compatible addresses', { skip: why ?? false }, () => {
  before(() => {
    spawnSync('ip', ['netns', 'add', NS]);
    mkdirSync(ETC, { recursive: true });
    writeFileSync(
      `${ETC}/hosts`,
      '::7f00:1 compat.test\n::ffff:0:7f00:1 translated.test\n127.0.0.1 fine.test\n',
    );
  });
  after(() => {
    spawnSync('ip', ['netns', 'del', NS]);
    rmSync(ETC, { recursive: true, force: true });
  });

  test('are refused naming the name and its address; a name for 127.0.0.1 resolves', () => {
    const script = `
      const m = await import(${JSON.stringify(ADDRESS)});
      const out = [];
      for (const h of ['compat.test', 'translated.test', 'fine.test'])
        out.push(await m.resolveHost(h).catch((e) => e.message));
      console.log(JSON.stringify(out));`;
    const r = spawnSync(
      'ip',
      ['netns', 'exec', NS, process.execPath, '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 10_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const [compat, translated, fine] = JSON.parse(r.stdout) as unknown[];
    assert.equal(
      compat,
      "'compat.test' resolves to ::7f00:1, an IPv4-compatible IPv6 address (deprecated, RFC 4291), which is routed as IPv6, not to 127.0.0.1: for 127.0.0.1, write 127.0.0.1, or ::ffff:127.0.0.1 for a dual-stack socket",
    );
    assert.match(
      String(translated),
      /^'translated\.test' resolves to ::ffff:0:7f00:1, an IPv4-translated/,
    );
    assert.deepEqual(fine, { address: '127.0.0.1', family: 'udp4' });
  });
});
