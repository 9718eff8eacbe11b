import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './helpers.js';

test('udplab demo runs the whole lab on loopback and exits 0 with every check passing', async () => {
  const started = Date.now();
  const r = await runCli(['demo', '--json']);
  assert.equal(r.code, 0, r.stdout.text + r.stderr.text);
  const ev = r.stdout.events();
  const checks = ev.filter((e) => e.event === 'check');
  assert.ok(checks.length >= 6, `${checks.length} checks`);
  assert.deepEqual(
    checks.filter((c) => c.ok !== true),
    [],
  );
  const roles = new Set(ev.map((e) => e.role).filter(Boolean));
  for (const role of ['server', 'client', 'spoofer']) assert.ok(roles.has(role), role);
  assert.ok(
    ev.some((e) => e.event === 'received' && e.fromServer === false && e.text === "I'm fake"),
    'the promiscuous client is fooled',
  );
  assert.ok(ev.some((e) => e.event === 'ignored' && e.reason === 'wrong-id'));
  assert.ok(
    ev.some((e) => e.event === 'dropped'),
    'task 2 drops',
  );
  assert.ok(
    ev.some((e) => e.event === 'gave-up'),
    'task 2 gives up',
  );
  assert.ok(Date.now() - started < 30000);
});

test('udplab demo (text) narrates each part and --only selects parts', async () => {
  const r = await runCli(['demo', '--only', 'task1']);
  assert.equal(r.code, 0);
  assert.match(r.stdout.text, /== A server bound to 127\.0\.0\.1, and a client/);
  assert.match(r.stdout.text, /\[server\] +Listening at 127\.0\.0\.1:\d+/);
  // The three binds of Task 1: loopback, one address (127.0.0.2 for the external one), all.
  assert.match(r.stdout.text, /✔ bound to 127\.0\.0\.1: no reply at 127\.0\.0\.2/);
  assert.match(r.stdout.text, /✔ bound to 127\.0\.0\.2: answered there/);
  assert.match(r.stdout.text, /✔ bound to 127\.0\.0\.2: no reply at 127\.0\.0\.1/);
  assert.match(r.stdout.text, /✔ bound to 0\.0\.0\.0: the request to 127\.0\.0\.2 was answered/);
  assert.match(r.stdout.text, /✔/);
  assert.doesNotMatch(r.stdout.text, /unsafe client/i);
  assert.match(r.stdout.text, /Demo finished: every step behaved as the lab says\./);
});
