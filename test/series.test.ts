import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createServer,
  requestSeries,
  seededRng,
  type ClientEvent,
  type SeriesSummaryEvent,
} from '../src/index.js';
import { rawSocket } from './helpers.js';

test('statistics: against drop 0.5, 5 transmissions fail with probability 1/32', async (t) => {
  const server = await createServer({
    host: '127.0.0.1',
    dropProbability: 0.5,
    perDatagramEvents: false,
  });
  t.after(() => server.close());
  const n = 400;
  const summary = await requestSeries({
    host: '127.0.0.1',
    port: server.address.port,
    timeoutMs: 2,
    maxDelayMs: 32, // waits 2, 4, 8, 16, 32 ms: 5 transmissions
    count: n,
    intervalMs: 0,
  });
  // Failures ~ Binomial(400, 1/32): mean 12.5, sd 3.48. P(X ≤ 1) ≈ 4e-5 and P(X ≥ 30) ≈ 2e-5, so
  // [2, 29] fails a correct client about once in 16,000 runs. A late reply (a stalled event loop)
  // can only turn a failure into a success, never the reverse, so the lower bound is the one at risk.
  assert.equal(summary.sent, n);
  assert.ok(summary.failed >= 2 && summary.failed <= 29, `failed ${summary.failed} of ${n}`);
  assert.equal(summary.answered + summary.failed, n);
  // Every request needs on average 2 transmissions when p = 1/2 (truncated geometric): > 1.5 per request.
  assert.ok(summary.retransmissions > n * 0.5, `retransmissions ${summary.retransmissions}`);
});

test('a seeded lossy server gives exactly the same run twice', async () => {
  const run = async (): Promise<number[]> => {
    const server = await createServer({
      host: '127.0.0.1',
      dropProbability: 0.5,
      rng: seededRng(2024),
    });
    const attempts: number[] = [];
    await requestSeries({
      host: '127.0.0.1',
      port: server.address.port,
      timeoutMs: 40,
      maxDelayMs: 640,
      count: 12,
      intervalMs: 0,
      onEvent: (e: ClientEvent | SeriesSummaryEvent) => {
        if (e.event === 'received') attempts.push(e.attempt);
        if (e.event === 'gave-up') attempts.push(-e.attempts);
      },
    });
    await server.close();
    return attempts;
  };
  const a = await run();
  assert.equal(a.length, 12);
  assert.deepEqual(await run(), a);
});

test('a late duplicate is counted, never taken as the reply to the next request', async (t) => {
  // The scripted peer answers every datagram twice, echoing it, the second copy 20 ms later.
  const peer = await rawSocket();
  const timers = new Set<NodeJS.Timeout>();
  t.after(() => {
    timers.forEach(clearTimeout);
    peer.close();
  });
  let n = 0;
  peer.on('message', (_data, r) => {
    const reply = Buffer.from(`reply ${++n}`);
    peer.send(reply, r.port, r.address);
    timers.add(setTimeout(() => peer.send(reply, r.port, r.address), 20));
  });
  const received: string[] = [];
  let summary: SeriesSummaryEvent | undefined;
  await requestSeries({
    host: '127.0.0.1',
    port: peer.address().port,
    count: 3,
    intervalMs: 60,
    message: 'unused',
    onEvent: (e) => {
      if (e.event === 'summary') summary = e;
      if (e.event === 'received') received.push(e.text);
    },
  });
  assert.deepEqual(received, ['reply 1', 'reply 2', 'reply 3']);
  assert.ok(summary && summary.duplicates >= 2, `duplicates ${summary?.duplicates}`);
  assert.equal(summary?.answered, 3);
});

test('ping-like summary fields', async (t) => {
  const server = await createServer({ host: '127.0.0.1', perDatagramEvents: false });
  t.after(() => server.close());
  const s = await requestSeries({
    host: '127.0.0.1',
    port: server.address.port,
    count: 5,
    intervalMs: 0,
  });
  assert.equal(s.sent, 5);
  assert.equal(s.answered, 5);
  assert.equal(s.lossPercent, 0);
  assert.ok(s.rttMinMs !== null && s.rttMaxMs !== null && s.rttAvgMs !== null);
  assert.ok(s.rttMinMs <= s.rttAvgMs && s.rttAvgMs <= s.rttMaxMs);
  assert.ok(s.rttP50Ms !== null && s.rttP99Ms !== null && s.rttMdevMs !== null && s.rttMdevMs >= 0);
});
