import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './helpers.js';

test('udplab demo --only task3: the too-big send, 16 of 16 echoed, and the why with the loopback MTU', async () => {
  const started = Date.now();
  const json = await runCli(['demo', '--only', 'task3', '--json']);
  assert.equal(json.code, 0, json.stdout.text + json.stderr.text);
  const ev = json.stdout.events();
  const checks = ev.filter((e) => e.event === 'check');
  assert.ok(checks.length >= 4);
  assert.deepEqual(
    checks.filter((c) => c.ok !== true),
    [],
  );
  assert.ok(ev.some((e) => e.role === 'bigsend' && e.event === 'too-big'));
  assert.ok(ev.some((e) => e.role === 'echo-client' && e.event === 'summary'));

  const text = await runCli(['demo', '--only', 'task3']);
  assert.equal(text.code, 0);
  assert.match(text.stdout.text, /\[bigsend\] +packet too big, cannot send/);
  assert.match(text.stdout.text, /16 of 16 packets echoed back \(80,000 bytes, content verified\)/);
  assert.match(text.stdout.text, /== Why is this\?/);
  assert.match(text.stdout.text, /65,507 bytes over IPv4/);
  assert.match(text.stdout.text, /MTU is 65,536 bytes/);
  assert.ok(Date.now() - started < 10000);
});
