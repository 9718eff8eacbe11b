/**
 * The proxy's one timer, in fake time: however many datagrams are delayed, a single timer is
 * armed for the earliest; each leaves at exactly its due time; a blackout's edges are exact.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import FakeTimers from '@sinonjs/fake-timers';
import { createProxy, type ProxyEvent } from '../src/index.js';
import { rawSocket } from './helpers.js';

/** Waits for real I/O without timers (they are fake here). */
async function settle(check: () => boolean, rounds = 2000): Promise<void> {
  for (let i = 0; i < rounds && !check(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(check(), 'condition not met');
}

/** An echo peer, fake timers, a proxy with `up` impairments on the fake clock, and a client. */
async function setup(
  t: { after: (fn: () => unknown) => void },
  up: object,
): Promise<{
  clock: ReturnType<typeof FakeTimers.install>;
  events: ProxyEvent[];
  proxy: Awaited<ReturnType<typeof createProxy>>;
  send: (b: Buffer | string) => void;
  replies: Buffer[];
}> {
  const echo = await rawSocket();
  t.after(() => echo.close());
  echo.on('message', (d, r) => echo.send(d, r.port, r.address));
  const clock = FakeTimers.install({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'],
  });
  t.after(() => clock.uninstall());
  const events: ProxyEvent[] = [];
  const proxy = await createProxy({
    listen: { host: '127.0.0.1', port: 0 },
    to: { host: '127.0.0.1', port: echo.address().port },
    up,
    now: () => clock.now,
    onEvent: (e) => events.push(e),
  });
  t.after(() => proxy.close());
  const client = await rawSocket();
  t.after(() => client.close());
  const replies: Buffer[] = [];
  client.on('message', (d) => replies.push(d));
  const send = (b: Buffer | string): void => {
    client.send(b, proxy.address.port, '127.0.0.1');
  };
  return { clock, events, proxy, send, replies };
}

const upDelays = (events: ProxyEvent[]): number[] =>
  events.flatMap((e) => (e.event === 'forwarded' && e.direction === 'up' ? [e.delayMs] : []));

test('50 datagrams delayed 100 ms: one timer, none out at 99 ms, all out at 100 ms', async (t) => {
  const { clock, events, proxy, send, replies } = await setup(t, { delayMs: 100 });
  const n = 50;
  for (let i = 0; i < n; i++) send(`d${i}`);
  await settle(() => proxy.report().up.received === n);
  // The idle sweeper (an interval) and ONE timeout for the earliest datagram — not 50.
  assert.equal(clock.countTimers(), 2);
  assert.equal(proxy.report().up.queued, n);
  clock.tick(99);
  assert.equal(proxy.report().up.forwarded, 0);
  clock.tick(1);
  assert.equal(proxy.report().up.forwarded, n, 'all left the link at 100 ms');
  // `forwarded` events come from the sends' callbacks (real I/O); the fake clock stays at 100 ms.
  await settle(() => upDelays(events).length === n);
  assert.deepEqual(
    upDelays(events),
    Array.from({ length: n }, () => 100),
  );
  assert.equal(clock.countTimers(), 1, 'nothing left to wait for: only the sweeper');
  await settle(() => replies.length === n);
});

test('50 different due times (jitter): one timer at a time, released in due order', async (t) => {
  // Uniform in [50, 150] ms; all arrive at the same fake instant.
  const { clock, events, proxy, send, replies } = await setup(t, { delayMs: 100, jitterMs: 50 });
  const n = 50;
  for (let i = 0; i < n; i++) send(`d${i}`);
  await settle(() => proxy.report().up.received === n);
  for (let ms = 0; ms < 160; ms++) {
    assert.ok(clock.countTimers() <= 2);
    clock.tick(1);
  }
  await settle(() => replies.length === n);
  const delays = upDelays(events);
  assert.equal(delays.length, n);
  // In fake time the only lateness is the 1 ms resolution: each leaves at ⌈due⌉.
  assert.ok(
    delays.every((d) => Number.isInteger(d) && d >= 50 && d <= 150),
    delays.join(' '),
  );
  assert.deepEqual(
    delays,
    [...delays].sort((a, b) => a - b),
    'the sorted queue keeps due order',
  );
  assert.ok(new Set(delays).size > 20, 'the jitter spreads them');
});

test('a blackout window is exact in fake time: 999 ms through, 1000 and 1999 ms lost, 2000 ms through', async (t) => {
  const { clock, events, proxy, send, replies } = await setup(t, {
    blackouts: [{ fromMs: 1000, toMs: 2000 }],
  });
  const t0 = clock.now;
  const at = async (ms: number, text: string): Promise<void> => {
    clock.tick(ms - (clock.now - t0));
    const before = proxy.report().up.received;
    send(text);
    await settle(() => proxy.report().up.received === before + 1);
  };
  await at(999, 'before');
  await at(1000, 'first-dark');
  await at(1999, 'last-dark');
  await at(2000, 'after');
  await settle(() => replies.length === 2);
  assert.deepEqual(
    replies.map((r) => r.toString()),
    ['before', 'after'],
  );
  const lost = events.flatMap((e) => (e.event === 'lost' ? [[e.seq, e.reason]] : []));
  assert.deepEqual(lost, [
    [2, 'blackout'],
    [3, 'blackout'],
  ]);
});
