/**
 * A datagram the proxy releases but cannot send is a `send-failed` event, never `forwarded`:
 * too big for the other side's family (EMSGSIZE) in either direction, or its client forgotten
 * while it was inside. Regression: both used to say `forwarded`, and only the summary's
 * `sendFailed` told (docs/events.md, "udplab proxy").
 */
import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import { test } from 'node:test';
import {
  createProxy,
  createServer,
  type ProxyEvent,
  type ProxyOptions,
  type SendFailedEvent,
} from '../src/index.js';
import { Capture, rawSocket, runCli, until } from './helpers.js';

type T = { after: (fn: () => unknown) => void };

async function socketOn(t: T, host: '127.0.0.1' | '::1'): Promise<dgram.Socket> {
  const s = await rawSocket(host === '::1' ? 'udp6' : 'udp4');
  t.after(() => s.close());
  return s;
}

async function proxy(
  t: T,
  options: Omit<ProxyOptions, 'onEvent'>,
): Promise<{ proxy: Awaited<ReturnType<typeof createProxy>>; events: ProxyEvent[] }> {
  const events: ProxyEvent[] = [];
  const p = await createProxy({ ...options, onEvent: (e) => events.push(e) });
  t.after(() => p.close());
  return { proxy: p, events };
}

/** What each datagram of a direction became: `seq → forwarded | send-failed CODE/REASON`. */
function fates(events: ProxyEvent[], direction: 'up' | 'down'): string[] {
  return events.flatMap((e) => {
    if (e.event === 'forwarded' && e.direction === direction) return [`${e.seq} forwarded`];
    if (e.event === 'send-failed' && e.direction === direction) {
      return [`${e.seq} send-failed ${e.code ?? e.reason}`];
    }
    return [];
  });
}

test('up: datagrams too big for an IPv4 server are send-failed (EMSGSIZE), not forwarded', async (t) => {
  const server = await createServer({ host: '127.0.0.1' });
  t.after(() => server.close());
  const { proxy: p, events } = await proxy(t, {
    listen: { host: '::1', port: 0 },
    to: { host: '127.0.0.1', port: server.address.port },
  });
  const client = await socketOn(t, '::1');
  const replies: Buffer[] = [];
  client.on('message', (d) => replies.push(d));
  client.send(Buffer.alloc(10), p.address.port, '::1');
  await until(() => (replies.length === 1 ? true : undefined));
  // Both arrive over IPv6 (limit 65,527) but exceed IPv4's 65,507.
  client.send(Buffer.alloc(65_508), p.address.port, '::1');
  client.send(Buffer.alloc(65_527), p.address.port, '::1');
  await until(() => (fates(events, 'up').length === 3 ? true : undefined));
  assert.deepEqual(fates(events, 'up'), [
    '1 forwarded',
    '2 send-failed EMSGSIZE',
    '3 send-failed EMSGSIZE',
  ]);
  const failed = events.filter((e): e is SendFailedEvent => e.event === 'send-failed');
  for (const e of failed) {
    assert.equal(e.reason, 'socket');
    assert.deepEqual(e.to, { address: '127.0.0.1', port: server.address.port });
    assert.equal(e.client.address, '::1');
    assert.equal(e.copy, false);
  }
  assert.deepEqual(
    failed.map((e) => e.bytes),
    [65_508, 65_527],
  );
  assert.ok(!events.some((e) => e.event === 'error'), 'one event per datagram, no error');
  const r = p.report();
  assert.deepEqual([r.up.received, r.up.forwarded, r.up.sendFailed], [3, 1, 2]);
});

test('down: a reply too big for an IPv4 client is send-failed (EMSGSIZE), not forwarded', async (t) => {
  // An IPv6 server that answers every datagram with 65,508 bytes: fine over IPv6, too big over IPv4.
  const server = await socketOn(t, '::1');
  server.on('message', (_d, r) => server.send(Buffer.alloc(65_508), r.port, r.address));
  const { proxy: p, events } = await proxy(t, {
    listen: { host: '127.0.0.1', port: 0 },
    to: { host: '::1', port: server.address().port },
  });
  const client = await socketOn(t, '127.0.0.1');
  client.send('hi', p.address.port, '127.0.0.1');
  await until(() => (fates(events, 'down').length === 1 ? true : undefined));
  assert.deepEqual(fates(events, 'up'), ['1 forwarded']);
  assert.deepEqual(fates(events, 'down'), ['1 send-failed EMSGSIZE']);
  const failed = events.find((e): e is SendFailedEvent => e.event === 'send-failed');
  assert.deepEqual(failed?.to, { address: '127.0.0.1', port: client.address().port });
  assert.deepEqual(failed?.client, failed?.to, 'a reply goes to its client');
  const r = p.report();
  assert.deepEqual([r.down.received, r.down.forwarded, r.down.sendFailed], [1, 0, 1]);
});

test('a datagram whose client was evicted while it was inside is send-failed (evicted)', async (t) => {
  const echo = await socketOn(t, '127.0.0.1');
  echo.on('message', (d, r) => echo.send(d, r.port, r.address));
  const { proxy: p, events } = await proxy(t, {
    listen: { host: '127.0.0.1', port: 0 },
    to: { host: '127.0.0.1', port: echo.address().port },
    up: { delayMs: 100 },
    maxClients: 1,
  });
  const a = await socketOn(t, '127.0.0.1');
  const b = await socketOn(t, '127.0.0.1');
  a.send('from a', p.address.port, '127.0.0.1');
  await until(() => (p.report().up.received === 1 ? true : undefined));
  b.send('from b', p.address.port, '127.0.0.1'); // a full table: a is evicted, its datagram still inside
  await until(() => (fates(events, 'up').length === 2 ? true : undefined));
  const aPort = a.address().port;
  const up = events.flatMap((e) =>
    (e.event === 'forwarded' || e.event === 'send-failed') && e.direction === 'up'
      ? [[e.client.port === aPort ? 'a' : 'b', e.event === 'send-failed' ? e.reason : e.event]]
      : [],
  );
  assert.deepEqual(up, [
    ['a', 'evicted'],
    ['b', 'forwarded'],
  ]);
  assert.equal(p.report().up.sendFailed, 1);
});

test('the human line of a failed send is one line that says so, and no "forwarded" line for it', async (t) => {
  const server = await createServer({ host: '127.0.0.1' });
  t.after(() => server.close());
  const ac = new AbortController();
  const stdout = new Capture();
  const argv = ['proxy', '-l', '[::1]:0', '-t', `127.0.0.1:${server.address.port}`];
  const run = runCli(argv, { signal: ac.signal, stdout });
  t.after(async () => {
    ac.abort();
    await run;
  });
  const port = Number(
    (await until(() => /Proxy listening at \[::1\]:(\d+)/.exec(stdout.text) ?? undefined))[1],
  );
  const client = await socketOn(t, '::1');
  client.send(Buffer.alloc(65_508), port, '::1');
  const line = await until(() => stdout.text.split('\n').find((l) => /NOT SENT/.test(l)));
  assert.match(
    line,
    /^→ \[::1\]:\d+ #1 65508 bytes NOT SENT to 127\.0\.0\.1:\d+: EMSGSIZE \(more than one IPv4 datagram can carry: 65,507 bytes\)$/,
  );
  ac.abort();
  assert.equal((await run).code, 0);
  assert.doesNotMatch(stdout.text, /bytes forwarded/);
  assert.match(stdout.text, /1 in, 0 forwarded, .*, 1 send failed/);
});
