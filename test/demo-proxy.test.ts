import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './helpers.js';

test('demo part "proxy": a plain server behind loss and a blackout, the client retransmitting', async () => {
  const started = Date.now();
  const r = await runCli(['demo', '--only', 'proxy', '--json']);
  assert.equal(r.code, 0, r.stdout.text + r.stderr.text);
  const ev = r.stdout.events();
  const checks = ev.filter((e) => e.event === 'check');
  assert.equal(checks.length, 2);
  assert.ok(
    checks.every((c) => c.ok === true),
    JSON.stringify(checks),
  );
  const proxyEvents = ev.filter((e) => e.role === 'proxy');
  const reasons = proxyEvents.filter((e) => e.event === 'lost').map((e) => e.reason);
  assert.deepEqual(reasons, ['loss', 'loss', 'blackout', 'blackout', 'blackout']);
  assert.equal(proxyEvents.filter((e) => e.event === 'summary').length, 2);
  const received = ev.filter((e) => e.role === 'client' && e.event === 'received');
  assert.deepEqual(
    received.map((e) => e.attempt),
    [3, 4],
  );
  assert.ok(Date.now() - started < 5000, 'a few seconds at most');
});

test('demo part "proxy" in text: the proxy’s lines are tagged and say why a datagram was lost', async () => {
  const r = await runCli(['demo', '--only', 'proxy']);
  assert.equal(r.code, 0);
  assert.match(r.stdout.text, /\[proxy\] +Proxy listening at 127\.0\.0\.1:\d+/);
  assert.match(r.stdout.text, /\[proxy\] +both ways: loss 30 %/);
  assert.match(r.stdout.text, /LOST \(blackout\)/);
  assert.match(r.stdout.text, /Demo finished: every step behaved as the lab says\./);
});
