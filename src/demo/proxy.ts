/**
 * Demo, the impairment proxy: a plain server (no --drop) behind `udplab proxy`, first with
 * 30 % loss each way, then with a blackout — the "crashed server" that the client cannot tell
 * apart from loss. The client is the lab's, with its default schedule.
 */
import { request } from '../client.js';
import { createProxy } from '../proxy.js';
import { seededRng } from '../rng.js';
import { createServer } from '../server.js';
import type { DemoContext, DemoPart } from './context.js';

/**
 * A seed whose decisions at 30 % loss are: request 1 lost on the way up, the reply to request 2
 * lost on the way down, then everything passes (so the demo repeats exactly).
 */
const SEED_UP_LOST_DOWN_LOST = 17;

async function run(ctx: DemoContext): Promise<void> {
  const signal = ctx.signal;
  const opt = signal ? { signal } : {};
  ctx.step(
    'A plain server behind the proxy: 30 % loss each way (udplab proxy --loss 0.3)',
    'The server does not drop anything itself: the proxy in front of it plays the bad network, as it can for any UDP program.',
    'The client sends to the proxy; the proxy relays to the server from its own socket and relays the reply back.',
  );
  const server = await createServer({ host: '127.0.0.1', onEvent: ctx.as('server'), ...opt });
  try {
    const lossy = await createProxy({
      listen: { host: '127.0.0.1', port: 0 },
      to: { host: '127.0.0.1', port: server.address.port },
      impairments: { loss: 0.3 },
      rng: seededRng(SEED_UP_LOST_DOWN_LOST),
      onEvent: ctx.as('proxy'),
      ...opt,
    });
    try {
      const r = await request({
        host: '127.0.0.1',
        port: lossy.address.port,
        onEvent: ctx.as('client'),
        ...opt,
      });
      ctx.check(
        r.attempts === 3,
        `answered on attempt ${r.attempts}: the first request was lost, then the reply to the second`,
      );
      ctx.say(
        'The server answered twice: a lost reply looks exactly like a lost request to the client, so a retransmitted request must be safe to do again.',
      );
    } finally {
      await lossy.close();
    }

    ctx.step(
      'A blackout: nothing gets through for 0.6 s (udplab proxy --blackout 0-0.6)',
      'From the client’s side a crashed or rebooting server is indistinguishable from loss: it just retransmits.',
      'Its waits, 0.1 + 0.2 + 0.4 s, carry the fourth transmission past the end of the blackout.',
    );
    const dark = await createProxy({
      listen: { host: '127.0.0.1', port: 0 },
      to: { host: '127.0.0.1', port: server.address.port },
      impairments: { blackouts: [{ fromMs: 0, toMs: 600 }] },
      onEvent: ctx.as('proxy'),
      ...opt,
    });
    try {
      const r = await request({
        host: '127.0.0.1',
        port: dark.address.port,
        onEvent: ctx.as('client'),
        ...opt,
      });
      ctx.check(
        r.attempts === 4 && r.elapsedMs >= 600,
        `answered on attempt ${r.attempts}, ${(r.elapsedMs / 1000).toFixed(2)} s after the first transmission: the blackout ate the first three`,
      );
    } finally {
      await dark.close();
    }
  } finally {
    await server.close();
  }
}

/** The impairment proxy. */
export const proxy: DemoPart = {
  name: 'proxy',
  title: 'The impairment proxy — a plain server behind loss and a blackout',
  run,
};
