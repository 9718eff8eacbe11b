/**
 * The native backend sends a run of same-size replies to one client as one UDP GSO send. Where the
 * path refuses that (here: a path MTU under the segment size, so each datagram must be fragmented,
 * which GSO cannot do), the run goes out again one reply per message: nothing is lost or counted
 * as failed, and later runs that fit are still grouped. Beyond loopback addresses an IPv4 run
 * stays within 1,472 bytes (the DF flag, native/udplab_mmsg.c gso_limits()). Run inside a network
 * namespace whose `lo` has an MTU of 400 bytes and a test address; needs root (skipped with the
 * reason otherwise).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { nativeSkipReason } from './backends.js';
import { netnsUnavailable } from './netns.js';

const why = netnsUnavailable() ?? nativeSkipReason;
if (why) console.log(`# skipping the GSO fallback test: ${why}`);

const NS = `udplab-gso-${process.pid}`;
/** A test address on the namespace's `lo`: not a loopback address, so IPv4's run limit applies. */
const ADDR = '10.231.251.1';
const NATIVE = new URL('../src/backend/native.js', import.meta.url).href;

/**
 * On one native echo backend, a burst of 40 datagrams of each size in turn; prints per burst what
 * arrived and the messages it took.
 */
const script = (address: string, sizes: number[]): string => `
const dgram = await import('node:dgram');
const { loadNativeAddon, openNativeBackend } = await import(${JSON.stringify(NATIVE)});
const load = loadNativeAddon();
let failed = 0;
const b = openNativeBackend(load.addon, {
  family: 'udp4', address: ${JSON.stringify(address)}, port: 0, sendQueueLimit: 1024,
  onBatch: (batch, replies) => { for (const d of batch) replies.push({ data: Buffer.from(d.data), to: d.from }); },
  onSendFailed: (n) => (failed += n),
  onError: (err) => { throw err; },
});
const peer = dgram.createSocket('udp4');
await new Promise((r) => peer.bind(0, ${JSON.stringify(address)}, r));
const results = [];
for (const size of ${JSON.stringify(sizes)}) {
  const before = b.sendCounts();
  const got = [];
  const on = (d) => got.push(d.length === size && d[0] === got.length % 256);
  peer.on('message', on);
  for (let i = 0; i < 40; i++) peer.send(Buffer.alloc(size, i % 256), b.address.port, ${JSON.stringify(address)});
  const deadline = Date.now() + 3000;
  while (got.length < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  peer.off('message', on);
  const now = b.sendCounts();
  results.push({ size, got: got.length, intact: got.every(Boolean), failed,
    messages: now.messages - before.messages, datagrams: now.datagrams - before.datagrams,
    refused: now.refusedRuns - before.refusedRuns });
}
console.log(JSON.stringify(results));
peer.close();
await b.close();`;

function run(address: string, sizes: number[]): Record<string, unknown>[] {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', NS, process.execPath, '--input-type=module', '-e', script(address, sizes)],
    { encoding: 'utf8', timeout: 10_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
}

describe('UDP GSO refused by the path', { skip: why ?? false }, () => {
  before(() => {
    spawnSync('ip', ['netns', 'add', NS]);
    spawnSync('ip', ['-n', NS, 'link', 'set', 'lo', 'mtu', '400', 'up']);
    spawnSync('ip', ['-n', NS, 'addr', 'add', `${ADDR}/32`, 'dev', 'lo']);
  });
  after(() => spawnSync('ip', ['netns', 'del', NS]));

  test('a run over the path MTU falls back to one send per reply, all delivered; the refusal is remembered; runs that fit are still grouped', () => {
    // 500 bytes: under IPv4's grouping limit (548), over this path's MTU (400): the GSO send fails
    // (EMSGSIZE, or EINVAL before Linux 6.14), and each reply then goes alone, fragmented by IP.
    // Then 300 bytes on the same socket: grouped again (fewer messages than datagrams). Then 500
    // bytes again: the destination's refusal is remembered, so no run is tried (and refused).
    const [big, small, again] = run('127.0.0.1', [500, 300, 500]);
    const whole = { got: 40, intact: true, failed: 0, datagrams: 40 };
    assert.deepEqual(
      { ...big, refused: undefined },
      { size: 500, ...whole, messages: 40, refused: undefined },
    );
    assert.ok((big?.refused as number) >= 1, JSON.stringify(big));
    assert.deepEqual(
      { ...small, messages: undefined },
      { size: 300, ...whole, messages: undefined, refused: 0 },
    );
    assert.ok((small?.messages as number) < 40, JSON.stringify(small));
    assert.deepEqual(again, { size: 500, ...whole, messages: 40, refused: 0 });
  });

  test('beyond loopback addresses an IPv4 run stays within 1,472 bytes', () => {
    const [runs] = run(ADDR, [100]);
    // 40 replies of 100 bytes, at most 14 a run: 3 messages at least (more where batches cut runs).
    assert.deepEqual(
      { ...runs, messages: undefined },
      {
        size: 100,
        got: 40,
        intact: true,
        failed: 0,
        messages: undefined,
        datagrams: 40,
        refused: 0,
      },
    );
    const messages = runs?.messages as number;
    assert.ok(messages >= 3 && messages < 40, JSON.stringify(runs));
  });
});
