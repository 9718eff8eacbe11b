/**
 * The lab's schedule in (fake) wall-clock time: with the defaults the client transmits at
 * 0, 0.1, 0.3, 0.7 and 1.5 s and gives up at exactly 3.1 s — checked without waiting 3.1 s.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import FakeTimers from '@sinonjs/fake-timers';
import { createServer, GaveUpError, request, type ClientEvent } from '../src/index.js';

test('lab defaults: 5 transmissions at 0, 100, 300, 700, 1500 ms; gave up at 3100 ms', async (t) => {
  const server = await createServer({ host: '127.0.0.1', dropProbability: 1 });
  t.after(() => server.close());
  const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'hrtime'] });
  t.after(() => clock.uninstall());
  const sentAt: number[] = [];
  let gaveUpAt = -1;
  const onEvent = (e: ClientEvent): void => {
    if (e.event === 'sent') sentAt.push(clock.now);
    if (e.event === 'gave-up') gaveUpAt = clock.now;
  };
  const pending = request({ host: '127.0.0.1', port: server.address.port, onEvent }).catch(
    (err: unknown) => err,
  );
  // Let the real socket connect, then move the fake clock through the whole schedule.
  while (sentAt.length === 0) await new Promise((r) => setImmediate(r));
  const start = sentAt[0] ?? 0;
  for (let i = 0; i < 3100; i += 50) await clock.tickAsync(50);
  const err = await pending;
  assert.ok(err instanceof GaveUpError);
  assert.deepEqual(
    sentAt.map((x) => x - start),
    [0, 100, 300, 700, 1500],
  );
  assert.equal(gaveUpAt - start, 3100);
  assert.equal(Math.round(err.details.elapsedMs), 3100);
});
