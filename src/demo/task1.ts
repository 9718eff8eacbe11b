/** Demo, Task 1: the server and the client on loopback, and why the bind address matters. */
import { request } from '../client.js';
import { GaveUpError } from '../client-match.js';
import { currentTimeMessage } from '../client-prepare.js';
import { replyText } from '../wire/text.js';
import { createServer, type UdpServer } from '../server.js';
import type { DemoContext, DemoPart } from './context.js';

/** Checks that a server bound to `bound` does not answer a request sent to `sentTo`. */
async function expectNoReply(
  ctx: DemoContext,
  bound: string,
  sentTo: string,
  port: number,
): Promise<void> {
  try {
    await request({
      host: sentTo,
      port,
      attempts: 2,
      onEvent: ctx.as('client'),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    ctx.check(false, `a server bound to ${bound} should not answer at ${sentTo}`);
  } catch (err) {
    if (!(err instanceof GaveUpError)) throw err;
    ctx.check(true, `bound to ${bound}: no reply at ${sentTo}`);
  }
}

/** Runs `step` with a demo server bound to `host` (port 0), and closes the server after it. */
async function withServer(
  ctx: DemoContext,
  host: string,
  step: (server: UdpServer) => Promise<void>,
): Promise<void> {
  const server = await createServer({
    host,
    port: 0,
    onEvent: ctx.as('server'),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  try {
    await step(server);
  } finally {
    await server.close();
  }
}

async function run(ctx: DemoContext): Promise<void> {
  const signal = ctx.signal;
  ctx.step(
    'A server bound to 127.0.0.1, and a client',
    'The server binds an interface and a port; port 0 lets the OS choose a free one.',
    'The client sends the current time; the OS gives the client an address and port when it connects.',
  );
  await withServer(ctx, '127.0.0.1', async (server) => {
    const message = currentTimeMessage();
    const bytes = Buffer.byteLength(message);
    const r = await request({
      host: '127.0.0.1',
      port: server.address.port,
      message,
      onEvent: ctx.as('client'),
      ...(signal ? { signal } : {}),
    });
    ctx.check(r.text === replyText(bytes), `the reply counts the ${bytes} bytes the client sent`);
    ctx.step(
      'Why the bind address matters',
      'A socket bound to 127.0.0.1 only receives datagrams addressed to 127.0.0.1.',
      'Sending to another address of this machine (127.0.0.2 stands in for its external address) reaches no socket:',
      'the kernel answers with ICMP "port unreachable" and the client gives up.',
    );
    await expectNoReply(ctx, '127.0.0.1', '127.0.0.2', server.address.port);
  });
  ctx.step(
    'A server bound to one external address receives only what is sent to that address',
    '127.0.0.2 stands in for the machine’s external address: the server answers there,',
    'and a request to 127.0.0.1 (loopback, another address of the same machine) reaches no socket.',
  );
  await withServer(ctx, '127.0.0.2', async (one) => {
    const r = await request({
      host: '127.0.0.2',
      port: one.address.port,
      onEvent: ctx.as('client'),
      ...(signal ? { signal } : {}),
    });
    ctx.check(r.text.startsWith('I received from you'), 'bound to 127.0.0.2: answered there');
    await expectNoReply(ctx, '127.0.0.2', '127.0.0.1', one.address.port);
  });
  ctx.step(
    'A server bound to 0.0.0.0 (all interfaces) receives datagrams sent to any address of the machine',
    'Here the client sends to 127.0.0.2. Watch the reply’s source: the kernel picks it from the route back',
    '(127.0.0.1), not from the address the request was sent to. The lab’s client (listening to anyone) accepts it;',
    'a connected client would drop it — which is why multi-homed servers such as DNS bind each address separately.',
  );
  await withServer(ctx, '0.0.0.0', async (all) => {
    const r = await request({
      host: '127.0.0.2',
      port: all.address.port,
      promiscuous: true,
      onEvent: ctx.as('client'),
      ...(signal ? { signal } : {}),
    });
    ctx.check(
      r.text.startsWith('I received from you'),
      `bound to 0.0.0.0: the request to 127.0.0.2 was answered (from ${r.from.address})`,
    );
  });
}

/** Task 1. */
export const task1: DemoPart = { name: 'task1', title: 'Task 1 — a UDP server and client', run };
