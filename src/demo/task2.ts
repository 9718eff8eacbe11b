/** Demo, Task 2: a lossy "remote" server and the client's retransmissions with a doubling timer. */
import { request } from '../client.js';
import { GaveUpError } from '../client-match.js';
import { nominalWaits } from '../backoff.js';
import { seededRng } from '../rng.js';
import { createServer } from '../server.js';
import type { DemoContext, DemoPart } from './context.js';

/** A seed whose first two drop decisions drop and whose third passes (at p = 0.5), so the demo repeats. */
const SEED_DROP_DROP_PASS = 7;

async function run(ctx: DemoContext): Promise<void> {
  const signal = ctx.signal;
  const opt = signal ? { signal } : {};
  ctx.step(
    'A "remote" server that drops half the datagrams (udplab server --drop 0.5)',
    'The client cannot tell a lost request from a lost reply or a crashed server: it can only wait, and try again.',
    'The lab’s client waits 0.1 s, retransmits, doubles the wait, and gives up once the next wait would pass 2 s.',
  );
  const server = await createServer({
    host: '127.0.0.1',
    dropProbability: 0.5,
    rng: seededRng(SEED_DROP_DROP_PASS),
    onEvent: ctx.as('server'),
    ...opt,
  });
  try {
    const r = await request({
      host: '127.0.0.1',
      port: server.address.port,
      onEvent: ctx.as('client'),
      ...opt,
    });
    ctx.check(
      r.attempts === 3,
      `answered on attempt ${r.attempts} after two drops (waits 0.1 s, then 0.2 s)`,
    );
  } finally {
    await server.close();
  }

  // The same schedule, ten times faster, so the demo stays short.
  const waits = nominalWaits({ timeoutMs: 10, maxDelayMs: 200 });
  const total = waits.reduce((a, b) => a + b, 0);
  ctx.step(
    'A server that never answers (crashed, or every datagram lost): the client gives up',
    `Lab defaults: 0.1 + 0.2 + 0.4 + 0.8 + 1.6 = 3.1 s over 5 transmissions (the next wait, 3.2 s, would pass 2 s).`,
    `Here ten times faster: ${waits.map((w) => (w / 1000).toFixed(2)).join(' + ')} = ${(total / 1000).toFixed(2)} s.`,
  );
  const dead = await createServer({ host: '127.0.0.1', dropProbability: 1, ...opt });
  try {
    await request({
      host: '127.0.0.1',
      port: dead.address.port,
      timeoutMs: 10,
      maxDelayMs: 200,
      onEvent: ctx.as('client'),
      ...opt,
    });
    ctx.check(false, 'a server that drops everything should never answer');
  } catch (err) {
    if (!(err instanceof GaveUpError)) throw err;
    ctx.check(
      err.details.attempts === waits.length,
      `gave up after ${err.details.attempts} transmissions`,
    );
  } finally {
    await dead.close();
  }
}

/** Task 2. */
export const task2: DemoPart = { name: 'task2', title: 'Task 2 — loss and retransmission', run };
