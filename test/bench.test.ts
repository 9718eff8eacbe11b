import assert from 'node:assert/strict';
import { test } from 'node:test';
import dgram from 'node:dgram';
import {
  bench,
  createServer,
  ErrorCodes,
  type BenchEvent,
  type BenchSummaryEvent,
} from '../src/index.js';
import { latencySummary, newHistogram } from '../src/bench-latency.js';
import { InFlight } from '../src/bench-window.js';
import { main } from '../src/cli/main.js';
import { nativeSkipReason, serverBackends } from './backends.js';
import { Capture, freePort, rawSocket, runCli, spawnUdplab } from './helpers.js';

/** `udplab bench --backend B 127.0.0.1 PORT …` as an argument list. */
function benchArgs(backend: string, port: number, ...rest: string[]): string[] {
  return ['bench', '--backend', backend, '127.0.0.1', String(port), ...rest];
}

async function labServer(t: { after: (fn: () => unknown) => void }): Promise<number> {
  const server = await createServer({ host: '127.0.0.1', port: 0, perDatagramEvents: false });
  t.after(() => server.close());
  return server.address.port;
}

/** A scripted server: `answer(request)` returns the reply, a delay and reply, or nothing. */
async function scriptedServer(
  t: { after: (fn: () => unknown) => void },
  answer: (req: Buffer) => string | [number, string] | undefined,
): Promise<number> {
  const s: dgram.Socket = await rawSocket();
  t.after(() => s.close());
  const timers: NodeJS.Timeout[] = [];
  t.after(() => timers.forEach(clearTimeout));
  s.on('message', (req, rinfo) => {
    const a = answer(req);
    if (a === undefined) return;
    if (typeof a === 'string') s.send(a, rinfo.port, rinfo.address);
    else timers.push(setTimeout(() => s.send(a[1], rinfo.port, rinfo.address), a[0]));
  });
  return s.address().port;
}

function assertConsistent(s: BenchSummaryEvent): void {
  assert.equal(
    s.sent,
    s.replies + s.lost + s.bad,
    'every measured request is answered, lost or bad',
  );
  const l = s.latencyMs;
  if (s.replies > 0) {
    const order = [l.min, l.p50, l.p90, l.p99, l.p999, l.max];
    for (const v of order) assert.ok(typeof v === 'number' && v > 0, `latency ${String(v)}`);
    const nums = order as number[];
    for (let i = 1; i < nums.length; i++) {
      assert.ok((nums[i] ?? 0) >= (nums[i - 1] ?? 0), `percentiles in order: ${nums.join(' ')}`);
    }
  }
}

// The socket tests run against every backend (test/backends.ts): same counts, same events.
for (const backend of serverBackends()) {
  test(`[${backend}] plain mode: N requests against udplab server, all answered, counts exact`, async (t) => {
    const port = await labServer(t);
    const events: BenchEvent[] = [];
    const s = await bench({
      backend,
      host: '127.0.0.1',
      port,
      requests: 300,
      concurrency: 8,
      onEvent: (e) => events.push(e),
    });
    assert.equal(s.stoppedBy, 'requests');
    assert.deepEqual(
      { sent: s.sent, replies: s.replies, lost: s.lost, late: s.late, bad: s.bad, mode: s.mode },
      { sent: 300, replies: 300, lost: 0, late: 0, bad: 0, mode: 'plain' },
    );
    assertConsistent(s);
    assert.ok(s.rps > 0);
    assert.deepEqual(
      events.map((e) => e.event).filter((e) => e !== 'progress'),
      ['started', 'summary'],
    );
  });

  test(`[${backend}] id mode: every reply is matched to its own request`, async (t) => {
    const port = await labServer(t);
    const s = await bench({
      backend,
      host: '127.0.0.1',
      port,
      requests: 200,
      concurrency: 4,
      id: true,
    });
    assert.deepEqual(
      { sent: s.sent, replies: s.replies, lost: s.lost, bad: s.bad, mode: s.mode, bytes: s.bytes },
      { sent: 200, replies: 200, lost: 0, bad: 0, mode: 'id', bytes: 32 },
    );
    assertConsistent(s);
  });

  test(`[${backend}] id mode: exact lost, late and bad counts against a scripted server`, async (t) => {
    // Request k: k % 5 == 0 no reply (lost); k % 7 == 0 a wrong text (bad); k == 3 answered
    // after 150 ms, past the 40 ms timeout (lost, then late). Requests 1..35, one at a time.
    const port = await scriptedServer(t, (req) => {
      const id = /^(\d+); /.exec(req.toString('latin1'))?.[1] ?? '';
      const k = Number(id);
      const good = `${id}; I received from you a message of ${req.length} bytes`;
      if (k % 5 === 0) return undefined;
      if (k % 7 === 0) return `${id}; I received from you a message of 1 bytes`;
      if (k === 3) return [150, good];
      return good;
    });
    const s = await bench({
      backend,
      host: '127.0.0.1',
      port,
      requests: 35,
      concurrency: 1,
      id: true,
      timeoutMs: 40,
    });
    // lost: 5 10 15 20 25 30 35 and 3; bad: 7 14 21 28; late: the reply to 3.
    assert.deepEqual(
      { sent: s.sent, replies: s.replies, lost: s.lost, bad: s.bad, late: s.late },
      { sent: 35, replies: 23, lost: 8, bad: 4, late: 1 },
    );
    assertConsistent(s);
  });

  test(`[${backend}] plain mode: replies with the wrong text are bad; percentiles see slow replies`, async (t) => {
    // Every 10th request is answered 30 ms late, every 25th with the wrong length.
    let n = 0;
    const port = await scriptedServer(t, (req) => {
      n++;
      if (n % 25 === 0) return 'I received from you a message of 999 bytes';
      const good = `I received from you a message of ${req.length} bytes`;
      return n % 10 === 0 ? [30, good] : good;
    });
    const s = await bench({
      backend,
      host: '127.0.0.1',
      port,
      requests: 100,
      size: 10,
      timeoutMs: 2000,
    });
    assert.deepEqual(
      { sent: s.sent, replies: s.replies, lost: s.lost, bad: s.bad, bytes: s.bytes },
      { sent: 100, replies: 96, lost: 0, bad: 4, bytes: 10 },
    );
    assertConsistent(s);
    // 10 of 96 replies waited ≥ 30 ms (a lower bound set by the peer's timer, not a speed claim).
    assert.ok((s.latencyMs.p99 ?? 0) >= 29.9 && (s.latencyMs.max ?? 0) >= 29.9, 'slow tail seen');
  });

  test(`[${backend}] a duration run stops by itself; the warm-up is not counted`, async (t) => {
    const port = await labServer(t);
    const events: BenchEvent[] = [];
    const s = await bench({
      backend,
      host: '127.0.0.1',
      port,
      durationMs: 250,
      warmupMs: 150,
      concurrency: 4,
      progressIntervalMs: 20,
      onEvent: (e) => events.push(e),
    });
    assert.equal(s.stoppedBy, 'duration');
    assert.ok(s.elapsedMs >= 100 && s.elapsedMs <= 5000, `elapsed ${s.elapsedMs}`);
    assert.equal(s.lost, 0);
    assertConsistent(s);
    const progress = events.filter((e) => e.event === 'progress');
    assert.ok(progress.some((e) => e.phase === 'warmup'));
    assert.ok(progress.some((e) => e.phase === 'measure'));
    // Counters never run backwards and the warm-up sends nothing into them.
    for (const p of progress) if (p.phase === 'warmup') assert.equal(p.sent, 0);
  });

  test(`[${backend}] an echo service is a valid server: plain and ID mode`, async (t) => {
    const echo = await scriptedServer(t, (req) => req.toString('latin1'));
    for (const id of [false, true]) {
      const s = await bench({ backend, host: '127.0.0.1', port: echo, requests: 20, id });
      assert.equal(s.replies, 20, `id ${String(id)}: ${JSON.stringify(s)}`);
      assert.equal(s.bad, 0);
      assertConsistent(s);
    }
    // An echo of another request is still bad in ID mode: its padding must be the request's.
    const mangled = await scriptedServer(t, (req) => `${req.toString('latin1')}y`);
    const s = await bench({ backend, host: '127.0.0.1', port: mangled, requests: 3, id: true });
    assert.equal(s.bad, 3);
  });

  test(`[${backend}] open loop: the first request goes at once, then one every 1/R s`, async (t) => {
    const port = await labServer(t);
    for (const [rate, durationMs, want] of [
      [1, 500, 1],
      [10, 1000, 10],
    ] as const) {
      const s = await bench({ backend, host: '127.0.0.1', port, rate, durationMs });
      assert.equal(s.sent, want, `rate ${rate}, ${durationMs} ms: ${s.sent} sent`);
      assert.equal(s.replies, want);
    }
  });

  test(`[${backend}] progress: the live rate shows in the warm-up and across its end`, async (t) => {
    const port = await labServer(t);
    const events: BenchEvent[] = [];
    await bench({
      backend,
      host: '127.0.0.1',
      port,
      durationMs: 400,
      warmupMs: 300,
      concurrency: 4,
      progressIntervalMs: 100,
      onEvent: (e) => events.push(e),
    });
    const progress = events.filter((e) => e.event === 'progress');
    const warm = progress.filter((e) => e.phase === 'warmup');
    assert.ok(warm.length > 0);
    for (const p of warm) {
      assert.equal(p.replies, 0, 'the warm-up is not counted');
      assert.ok(p.rps > 0, `warm-up rate ${p.rps}`);
    }
    // The first interval of the measurement began in the warm-up: its rate is not diluted.
    const first = progress.find((e) => e.phase === 'measure');
    const last = warm[warm.length - 1];
    assert.ok(first !== undefined && last !== undefined);
    assert.ok(first.rps > last.rps / 3, `first measured ${first.rps} vs warm-up ${last.rps}`);
  });

  test(`[${backend}] open loop never sends faster than --rate`, async (t) => {
    const port = await labServer(t);
    const s = await bench({
      backend,
      host: '127.0.0.1',
      port,
      rate: 1000,
      durationMs: 200,
      concurrency: 16,
    });
    // The schedule allows at most rate × (duration + one tick) requests.
    assert.ok(s.sent > 0 && s.sent <= 1000 * 0.2 + 2, `sent ${s.sent}`);
    assert.equal(s.rate, 1000);
    assertConsistent(s);
  });

  test(`[${backend}] an abort ends the run early with a summary`, async (t) => {
    const port = await labServer(t);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('SIGINT')), 100);
    const s = await bench({
      backend,
      host: '127.0.0.1',
      port,
      durationMs: 60_000,
      concurrency: 2,
      signal: controller.signal,
    });
    assert.equal(s.stoppedBy, 'signal');
    assert.ok(s.replies > 0);
    assertConsistent(s);
  });

  test(`[${backend}] nothing listening: every request lost, exit code 1`, async () => {
    const port = await freePort();
    const { code, stdout } = await runCli(
      benchArgs(backend, port, '-n', '3', '-t', '0.05', '--json'),
    );
    assert.equal(code, 1);
    const summary = stdout.events().find((e) => e.event === 'summary');
    assert.equal(summary?.replies, 0);
    assert.equal(summary?.lost, 3);
    // Loopback answers each request with ICMP port unreachable (not rate-limited on loopback);
    // the connected socket reports it, on both backends, as an error.
    assert.ok(Number(summary?.errors) >= 1, `errors ${String(summary?.errors)}`);
  });

  test(`[${backend}] nothing listening: errors of the warm-up are not counted`, async () => {
    const port = await freePort();
    const s = await bench({
      backend,
      host: '127.0.0.1',
      port,
      warmupMs: 300,
      durationMs: 150,
      concurrency: 1,
      timeoutMs: 20,
    });
    assert.equal(s.replies, 0);
    // About 15 requests go out in the warm-up, each refused; only the measured ones may count.
    assert.ok(s.errors <= s.sent, `errors ${String(s.errors)}, sent ${String(s.sent)}`);
    // Stopped by the clock: the whole window was measured, though nothing answered in it.
    assert.equal(s.stoppedBy, 'duration');
    assert.ok(s.elapsedMs >= 140 && s.elapsedMs <= 1000, `elapsed ${String(s.elapsedMs)}`);
    assert.equal(s.rps, 0);
  });

  test(`[${backend}] after ICMP port unreachable the socket goes on: a server that starts late is measured`, async (t) => {
    const port = await freePort();
    const errorsSeen: number[] = [];
    const run = bench({
      backend,
      host: '127.0.0.1',
      port,
      durationMs: 600,
      concurrency: 1,
      timeoutMs: 20,
      progressIntervalMs: 50,
      onEvent: (e) => {
        if (e.event === 'progress') errorsSeen.push(e.errors);
      },
    });
    // Nothing listens for the first 150 ms (ICMP errors), then a scripted server answers.
    await new Promise((r) => setTimeout(r, 150));
    const late = dgram.createSocket('udp4');
    t.after(() => late.close());
    await new Promise<void>((r) => late.bind(port, '127.0.0.1', r));
    late.on('message', (req, rinfo) => {
      late.send(`I received from you a message of ${req.length} bytes`, rinfo.port, rinfo.address);
    });
    const s = await run;
    assert.ok(s.errors >= 1, `errors ${s.errors}`);
    assert.ok((errorsSeen[0] ?? 0) >= 1, 'the errors came before the server started');
    assert.ok(s.lost >= 1 && s.replies >= 10, `lost ${s.lost}, replies ${s.replies}`);
    assertConsistent(s);
  });

  test(`[${backend}] datagrams from anyone but the server never reach the counts (connected socket)`, async (t) => {
    const port = await labServer(t);
    const stranger = await rawSocket();
    t.after(() => stranger.close());
    const fake = Buffer.from('I received from you a message of 32 bytes');
    let local = 0;
    const s = await bench({
      backend,
      host: '127.0.0.1',
      port,
      durationMs: 200,
      concurrency: 2,
      progressIntervalMs: 20,
      onEvent: (e) => {
        if (e.event === 'started') local = e.local.port;
        // Valid-looking replies from a stranger: counted, they would make real replies late.
        else if (e.event === 'progress')
          for (let i = 0; i < 20; i++) stranger.send(fake, local, '127.0.0.1');
      },
    });
    assert.ok(local > 0);
    assert.equal(s.late, 0);
    assert.equal(s.bad, 0);
    assert.ok(s.replies > 0);
    assertConsistent(s);
  });

  test(`[${backend}] IPv6, and a window wider than two batches (150 in flight)`, async (t) => {
    const server = await createServer({ host: '::1', port: 0, perDatagramEvents: false });
    t.after(() => server.close());
    let started: BenchEvent | undefined;
    const s = await bench({
      backend,
      host: '::1',
      port: server.address.port,
      requests: 3000,
      concurrency: 150,
      id: true,
      onEvent: (e) => {
        if (e.event === 'started') started = e;
      },
    });
    assert.ok(started?.event === 'started');
    assert.equal(started.local.address, '::1');
    assert.equal(started.backend, backend);
    // 150 requests leave at once: three sendmmsg batches on native (64, 64, 22). Not more:
    // the server's default receive buffer (208 KiB) holds a few hundred small datagrams.
    assert.deepEqual(
      { sent: s.sent, replies: s.replies, lost: s.lost, late: s.late, bad: s.bad },
      { sent: 3000, replies: 3000, lost: 0, late: 0, bad: 0 },
    );
    assertConsistent(s);
  });

  test(`[${backend}] CLI --json: started and summary events with the documented fields`, async (t) => {
    const port = await labServer(t);
    const { code, stdout } = await runCli(
      benchArgs(backend, port, '-n', '100', '-c', '4', '--json'),
    );
    assert.equal(code, 0);
    const events = stdout.events();
    assert.deepEqual(
      events.map((e) => e.event),
      ['started', 'summary'],
    );
    assert.deepEqual(Object.keys(events[0] ?? {}).sort(), [
      'backend',
      'bytes',
      'concurrency',
      'durationMs',
      'event',
      'local',
      'mode',
      'rate',
      'requests',
      'time',
      'timeoutMs',
      'to',
      'warmupMs',
    ]);
    assert.equal(events[0]?.backend, backend);
    const summary = events[1] ?? {};
    assert.equal(summary.backend, backend);
    assert.deepEqual(Object.keys(summary).sort(), [
      'backend',
      'bad',
      'bytes',
      'concurrency',
      'elapsedMs',
      'errors',
      'event',
      'late',
      'latencyMs',
      'lost',
      'mode',
      'rate',
      'replies',
      'rps',
      'sent',
      'stoppedBy',
      'time',
      'to',
      'unsent',
    ]);
    assert.deepEqual(Object.keys(summary.latencyMs as object).sort(), [
      'max',
      'mean',
      'min',
      'p50',
      'p90',
      'p99',
      'p999',
    ]);
  });

  test(`[${backend}] CLI human output: the final table`, async (t) => {
    const port = await labServer(t);
    const { code, stdout } = await runCli(benchArgs(backend, port, '-n', '50', '--id'));
    assert.equal(code, 0);
    assert.match(
      stdout.text,
      new RegExp(
        `^Benchmarking 127\\.0\\.0\\.1:\\d+ from 127\\.0\\.0\\.1:\\d+ \\(${backend} backend\\): id requests of 32 bytes`,
        'm',
      ),
    );
    assert.match(stdout.text, /^Requests +50 sent, 50 replies, 0 lost, 0 late, 0 bad/m);
    assert.match(stdout.text, /^Throughput +[\d,]+ replies\/s/m);
    assert.match(
      stdout.text,
      /^Latency +min [\d.]+ +p50 [\d.]+ +p90 [\d.]+ +p99 [\d.]+ +p99\.9 [\d.]+ +max [\d.]+ ms/m,
    );
  });

  test(`[${backend}] the real process stops by itself after --duration and prints the table`, async (t) => {
    const port = await labServer(t);
    const p = spawnUdplab(benchArgs(backend, port, '-d', '0.3', '-w', '0.1', '-c', '4'));
    t.after(() => p.child.kill());
    assert.equal(await p.exited, 0, p.stderr());
    assert.match(p.stdout(), /^Measured +0\.\d+ s \(stopped by duration\)/m);
    assert.match(p.stdout(), /^Throughput +[\d,]+ replies\/s/m);
    assert.equal(p.stderr(), '', 'no progress line when stderr is not a terminal');
  });

  test(`[${backend}] on a terminal: a live progress line on stderr, cleared before the table`, async (t) => {
    const port = await labServer(t);
    const stdout = new Capture();
    const stderr = new Capture();
    stderr.isTTY = true;
    const code = await main(
      ['bench', '--backend', backend, '127.0.0.1', String(port), '-d', '1.1', '-c', '2'],
      {
        stdout,
        stderr,
        env: {},
      },
    );
    assert.equal(code, 0);
    // One progress event a second: "1 s: N replies/s, …", rewritten in place with \r.
    const clear = '\r\x1b[2K';
    assert.ok(stderr.text.startsWith(`${clear}1 s: `), JSON.stringify(stderr.text));
    assert.match(
      stderr.text.slice(clear.length),
      /^1 s: [\d,]+ replies\/s, [\d,]+ sent, [\d,]+ replies, 0 lost, 0 bad/,
    );
    assert.ok(stderr.text.endsWith('\r\x1b[2K'), 'the line is cleared at the end');
    assert.doesNotMatch(stdout.text, /replies\/s, [\d,]+ sent/, 'progress never goes to stdout');
  });
}

test('on a terminal, Ctrl-C says what the run still waits for, then the table comes', async (t) => {
  const port = await labServer(t);
  const stdout = new Capture();
  const stderr = new Capture();
  stderr.isTTY = true;
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 300);
  const args = ['bench', '127.0.0.1', String(port), '-d', '30', '-t', '0.5'];
  const code = await main(args, { stdout, stderr, env: {}, signal: ac.signal });
  assert.equal(code, 0);
  assert.match(
    stderr.text,
    /stopping: waiting up to 0\.50 s for the replies in flight \(Ctrl-C again to quit now\)\n/,
  );
  assert.match(stdout.text, /Measured +0\.\d+ s \(stopped by signal\)/);
});

test('CLI: the last line says why no valid reply came, as far as the counts tell', async (t) => {
  const closed = await freePort();
  const refused = await runCli(['bench', '127.0.0.1', String(closed), '-n', '2', '-t', '0.05']);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stdout.text,
    /No reply: nothing listens there \(.*ICMP port unreachable\)\n$/,
  );

  const wrong = await scriptedServer(t, () => 'not the lab reply');
  const bad = await runCli(['bench', '127.0.0.1', String(wrong), '-n', '3']);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout.text, /No valid reply: every answer was bad: .*reply text\n$/);

  // A server that answers but not with the ID in front (the lab's Python server, for one).
  const noEcho = await scriptedServer(
    t,
    (req) => `I received from you a message of ${String(req.length)} bytes`,
  );
  const id = await runCli(['bench', '127.0.0.1', String(noEcho), '-n', '3', '--id']);
  assert.equal(id.code, 1);
  assert.match(id.stdout.text, /every answer was bad: .*without the request’s ID/);
});

test('CLI: replies that only come after --timeout are late, and the hint says to raise it', async (t) => {
  const slow = await scriptedServer(t, (req) => [
    150,
    `${req.toString('latin1').split(';')[0] ?? ''}; I received from you a message of ${String(req.length)} bytes`,
  ]);
  // Each request is lost after 50 ms; its reply comes 100 ms later, while the run goes on.
  // (--id: a plain reply names no request, so a late one would be taken for a newer request's.)
  const args = ['-d', '0.5', '-t', '0.05', '--id'];
  const r = await runCli(['bench', '127.0.0.1', String(slow), ...args]);
  assert.equal(r.code, 1);
  assert.match(r.stdout.text, /0 replies, [1-9]\d* lost, [1-9]\d* late/);
  assert.match(r.stdout.text, /No reply in time: .* raise --timeout\n$/);
});

test('CLI: counts and rates read as people write them (1 request, 0.5/s)', async (t) => {
  const port = await labServer(t);
  const r = await runCli(['bench', '127.0.0.1', String(port), '-n', '1', '-r', '0.5']);
  assert.equal(r.code, 0, r.stderr.text);
  assert.match(r.stdout.text, /0\.5 requests\/s open loop, at most 64 in flight, 1 request \(/);
  const one = await runCli(['bench', '127.0.0.1', String(port), '-n', '1', '-r', '1']);
  assert.match(one.stdout.text, / 1 request\/s open loop/);
  assert.match(r.stdout.text, /1 sent, 1 reply, 0 lost, 0 late, 0 bad, 0 errors/);
  assert.match(r.stdout.text, /64 in flight, 0\.5\/s\)/);
});

test('CLI usage errors exit 2 before any datagram', async () => {
  for (const args of [
    ['-s', '70000'],
    ['-c', '0'],
    ['--id', '-s', '5'],
    ['-r', '-3'],
    ['-d', '0'],
    ['-d', '0x10'], // decimal only
    ['-d', 'Infinity'],
  ]) {
    const { code, stderr } = await runCli(['bench', '127.0.0.1', '9', ...args]);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr.text}`);
  }
  // Every limit is the CLI's own message, in its own units, never the library's option name.
  for (const [args, expected] of [
    [['-w', '100000'], 'expected 0 or a number of seconds from 0.001 to 3600'],
    [['-w', '1e-9'], 'expected 0 or a number of seconds from 0.001 to 3600'],
    [['-c', '65537'], 'expected a whole number from 1 to 65,536'],
    [['-n', '2000000000'], 'expected a whole number from 1 to 1,000,000,000'],
    [['-r', '20000000'], 'expected requests per second from 0.001 to 10,000,000'],
    // Below the library's floors: refused by the CLI in its own words, not by the library.
    [['-r', '0.0001'], 'expected requests per second from 0.001 to 10,000,000'],
    [['-d', '0.0004'], 'expected a number of seconds from 0.001 to 3600'],
    [['-d', '1e-9'], 'expected a number of seconds from 0.001 to 3600'],
    [['-t', '1e-9'], 'expected a number of seconds from 0.001 to 60'],
  ] as const) {
    const { code, stderr } = await runCli(['bench', '127.0.0.1', '9', ...args]);
    assert.equal(code, 2);
    assert.ok(stderr.text.includes(expected), stderr.text);
    assert.doesNotMatch(stderr.text, /Ms must|concurrency must|requests must|rate must/);
  }
  // The limits are said in the options' own words and units: seconds, not the library's ms.
  for (const [args, limit] of [
    [['-d', '3601'], '3600'],
    [['-t', '61'], '60'],
  ] as const) {
    const { code, stderr } = await runCli(['bench', '127.0.0.1', '9', ...args]);
    assert.equal(code, 2);
    assert.match(
      stderr.text,
      new RegExp(
        `^udplab: error: option '.*' argument '\\d+' is invalid\\. expected a number of seconds from 0\\.001 to ${limit} `,
      ),
    );
  }
});

test('InFlight: lookup by sequence number, tombstones, expiry of a prefix, growth', () => {
  const w = new InFlight();
  for (let i = 0; i < 100; i++) w.push(i); // seq 1..100 sent at times 0..99
  assert.equal(w.live, 100);
  assert.equal(w.take(50), 49);
  assert.equal(w.take(50), undefined, 'already answered');
  assert.equal(w.take(101), undefined, 'never sent');
  assert.deepEqual(w.takeOldest(), { seq: 1, time: 0 });
  const expired: number[] = [];
  w.expire(10, (seq) => expired.push(seq));
  assert.deepEqual(expired, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.equal(w.take(5), undefined, 'given up');
  assert.equal(w.live, 100 - 12);
  assert.equal(w.nextSeq, 101);
  w.expire(Number.POSITIVE_INFINITY, () => undefined);
  assert.equal(w.live, 0);
  assert.equal(w.takeOldest(), undefined);
});

test('latency percentiles from the HDR histogram: exact to its 3 significant digits', async () => {
  const h = await newHistogram();
  // 1 000 latencies of 1 µs … 1 000 µs: the q-quantile is q × 1 ms (nearest rank).
  for (let us = 1; us <= 1000; us++) h.recordValue(us);
  const l = latencySummary(h);
  const near = (actual: number | null, expected: number): boolean =>
    actual !== null && Math.abs(actual - expected) <= expected * 0.001 + 0.001;
  assert.ok(near(l.min, 0.001), `min ${String(l.min)}`);
  assert.ok(near(l.p50, 0.5), `p50 ${String(l.p50)}`);
  assert.ok(near(l.p90, 0.9), `p90 ${String(l.p90)}`);
  assert.ok(near(l.p99, 0.99), `p99 ${String(l.p99)}`);
  assert.ok(near(l.p999, 0.999), `p99.9 ${String(l.p999)}`);
  assert.ok(near(l.max, 1), `max ${String(l.max)}`);
  assert.ok(near(l.mean, 0.5005), `mean ${String(l.mean)}`);
  const empty = latencySummary(await newHistogram());
  assert.deepEqual(Object.values(empty), [null, null, null, null, null, null, null]);
});

test('--backend: auto takes native where its addon loads, dgram is obeyed, a bad name is a usage error', async (t) => {
  const port = await labServer(t);
  for (const [choice, expected] of [
    ['auto', nativeSkipReason === undefined ? 'native' : 'dgram'],
    ['dgram', 'dgram'],
  ] as const) {
    const { code, stdout } = await runCli([
      'bench',
      '127.0.0.1',
      String(port),
      '-n',
      '20',
      '--backend',
      choice,
      '--json',
    ]);
    assert.equal(code, 0);
    const started = stdout.events().find((e) => e.event === 'started');
    assert.equal(started?.backend, expected, choice);
  }
  const bad = await runCli(['bench', '127.0.0.1', String(port), '--backend', 'fast']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr.text, /expected one of auto, native, dgram/);
});

test('a missing addon: auto falls back to dgram and measures; --backend native fails with UDPLAB_ERR_BACKEND', async (t) => {
  const port = await labServer(t);
  const MISSING = { UDPLAB_NATIVE_ADDON: '/nonexistent/udplab_mmsg.node' };
  const auto = spawnUdplab(['bench', '127.0.0.1', String(port), '-n', '50', '-c', '4'], MISSING);
  t.after(() => auto.child.kill());
  assert.equal(await auto.exited, 0, auto.stderr());
  assert.match(auto.stdout(), /^Benchmarking .*\(dgram backend\)/m);
  assert.match(auto.stdout(), /^Requests +50 sent, 50 replies, 0 lost/m);

  const forced = spawnUdplab(
    ['bench', '127.0.0.1', String(port), '-n', '5', '--backend', 'native', '--json'],
    MISSING,
  );
  t.after(() => forced.child.kill());
  assert.equal(await forced.exited, 1);
  const error = JSON.parse(forced.stdout().trim()) as { code: string };
  assert.equal(error.code, ErrorCodes.BACKEND);
  assert.match(forced.stderr(), /^udplab: error: the native backend is not available: .+\n$/);
});
