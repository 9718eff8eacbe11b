/**
 * The library checks its `backend` option at once (docs/errors.md): createServer() and bench()
 * throw a RangeError naming it for anything but auto, native or dgram, before any socket is
 * opened. Before, `backend: 'bogus'` started a native server, and a bench ran.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBackend } from '../src/backend/select.js';
import type { BackendChoice } from '../src/backend/types.js';
import { bench, createServer } from '../src/index.js';

/** Values a JavaScript caller (or a config file) could pass, none of them a backend. */
const BAD: unknown[] = ['bogus', '', 'Native', ' dgram', 'native ', 64, null, {}];

const named = (got: string): RegExp =>
  new RegExp(`^backend must be one of auto, native, dgram \\(got ${got}\\)$`);
const gotOf = (v: unknown): string =>
  typeof v === 'string' ? `'${v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'` : typeof v;

/** Each bad backend rejects with a RangeError naming it (the signal is already aborted: an
 * AbortError, or a bind's UDPLAB_ERR_BIND, would mean the check did not come first). */
async function rejectsEveryBadBackend(
  start: (backend: BackendChoice, signal: AbortSignal) => Promise<unknown>,
): Promise<void> {
  const aborted = AbortSignal.abort();
  for (const backend of BAD) {
    await assert.rejects(
      start(backend as BackendChoice, aborted),
      (err: unknown) => {
        assert.ok(err instanceof RangeError, String(err));
        assert.match(err.message, named(gotOf(backend)));
        return true;
      },
      String(backend),
    );
  }
}

test('createServer: a backend that is not auto, native or dgram is a RangeError naming it, at once', async () => {
  await rejectsEveryBadBackend((backend, signal) =>
    createServer({ host: '127.0.0.1', port: 0, backend, signal }),
  );
});

test('bench: a backend that is not auto, native or dgram is a RangeError naming it, at once', async () => {
  await rejectsEveryBadBackend((backend, signal) =>
    bench({ host: '127.0.0.1', port: 9, requests: 1, backend, signal }),
  );
});

test('openBackend refuses an unknown choice too, instead of taking it for native', async () => {
  const opened = await openBackend('bogus' as BackendChoice, {
    family: 'udp4',
    address: '127.0.0.1',
    port: 0,
    sendQueueLimit: 1,
    onBatch: () => undefined,
    onSendFailed: () => undefined,
    onError: (err) => assert.fail(err),
  }).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  if (!(opened instanceof Error)) {
    await opened.close(); // a failing run must not leave a socket behind
    assert.fail(`backend 'bogus' opened ${opened.name}`);
  }
  assert.ok(opened instanceof RangeError, String(opened));
  assert.match(opened.message, named("'bogus'"));
});

test('every valid backend, and none, is still accepted', async (t) => {
  for (const backend of [undefined, 'auto', 'dgram'] as const) {
    const server = await createServer({ host: '127.0.0.1', port: 0, backend });
    t.after(() => server.close());
    assert.ok(server.backend === 'dgram' || server.backend === 'native');
  }
});
