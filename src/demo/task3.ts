/**
 * Demo, Task 3: the 80,000-byte datagram that cannot be sent, the 16 pieces that can, the
 * echo client that returns them, and the why — the UDP payload limit and the path's MTU.
 */
import { bigsend, type BigsendEvent, type PathMtuEvent } from '../bigsend.js';
import { echoClient } from '../echo-client.js';
import { probe } from '../probe.js';
import { explainPath } from '../cli/bigsend.js';
import type { DemoContext, DemoPart } from './context.js';

/** Breaks a paragraph into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

async function run(ctx: DemoContext): Promise<void> {
  const signal = ctx.signal;
  ctx.step(
    'Task 3 — one datagram of 80,000 bytes, then the same bytes in 16 pieces',
    'bigsend waits for the echo client’s hello (that is how it learns the client’s address),',
    'tries to send 80,000 bytes as ONE datagram, then sends them as 16 datagrams of 5,000 bytes;',
    'the echo client sends every datagram back and bigsend checks each one byte for byte.',
  );
  const server = ctx.as('bigsend');
  let tooBig = false;
  let path: PathMtuEvent | undefined;
  let reportPort!: (port: number) => void;
  const port = new Promise<number>((resolve) => (reportPort = resolve));
  const onEvent = (e: BigsendEvent): void => {
    if (e.event === 'listening') reportPort(e.port);
    if (e.event === 'too-big') tooBig = true;
    if (e.event === 'path-mtu')
      path = e; // explained below, as the step's text
    else if (e.event !== 'chunk-sent' && e.event !== 'chunk-echoed') server(e);
  };
  const sending = bigsend({
    host: '127.0.0.1',
    port: 0,
    waitMs: 2000,
    onEvent,
    ...(signal ? { signal } : {}),
  });
  sending.catch(() => undefined);
  const echoing = echoClient({
    host: '127.0.0.1',
    port: await Promise.race([port, sending.then(() => 0)]),
    idleMs: 3000,
    onEvent: (e) => {
      if (e.event !== 'echoed') ctx.as('echo-client')(e);
    },
    ...(signal ? { signal } : {}),
  });
  const [sent, echoed] = await Promise.all([sending, echoing]);
  ctx.check(
    tooBig,
    'one datagram of 80,000 bytes: refused with EMSGSIZE ("packet too big, cannot send")',
  );
  ctx.check(
    sent.echoed === 16 && sent.missing.length === 0,
    `16 datagrams of 5,000 bytes: ${sent.echoed} of 16 came back, content verified`,
  );
  ctx.check(
    echoed.reason === 'done' && echoed.datagrams === 16,
    `the echo client echoed ${echoed.datagrams} datagrams and stopped when bigsend said it was done`,
  );

  const p = path;
  ctx.step(
    'Why is this?',
    ...(p
      ? wrap(explainPath(p), 100)
      : ['(bigsend did not report the path: the explanation is in docs/task3.md)']),
  );
  const local = await probe({
    host: '127.0.0.1',
    port: 9,
    roundTrip: false,
    ...(signal ? { signal } : {}),
  });
  ctx.check(
    local.localMax === 65507,
    `udplab probe: the largest datagram the stack accepts for 127.0.0.1 is ${local.localMax.toLocaleString('en-US')} bytes (65,535 − 20 − 8)`,
  );
}

/** Task 3. */
export const task3: DemoPart = { name: 'task3', title: 'Task 3 — big datagrams', run };
