/** Task 3 against the lab's own Python programs: their echo client with bigsend, our echo client with their server. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Capture, fixture, runCli, spawnCollect, until } from './helpers.js';
import { main } from '../src/cli/main.js';

const noPython =
  spawnSync('python3', ['--version']).status !== 0 ? 'python3 is not installed' : undefined;
if (noPython) console.log(`# skipping the Python Task 3 tests: ${noPython}`);

test(
  'the lab’s Python echo client works with udplab bigsend',
  { skip: noPython ?? false },
  async (t) => {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = main(['bigsend', '127.0.0.1', '0', '--json'], { stdout, stderr, env: {} });
    const port = await until(() => {
      const e = stdout.events().find((x) => x.event === 'listening');
      return typeof e?.port === 'number' ? e.port : undefined;
    });
    const py = spawnCollect('python3', [
      '-u',
      fixture('lab_echo_client.py'),
      '127.0.0.1',
      String(port),
    ]);
    t.after(() => py.child.kill());
    assert.equal(await code, 0, stderr.text);
    await py.waitFor(/Echoed 16 datagrams, 80000 bytes/);
    assert.equal(await py.exited, 0);
    const summary = stdout.events().find((e) => e.event === 'summary');
    assert.deepEqual(summary?.missing, []);
  },
);

test(
  'udplab echo-client works with the lab’s Python Task 3 server',
  { skip: noPython ?? false },
  async (t) => {
    const py = spawnCollect('python3', ['-u', fixture('lab_big_server.py'), '127.0.0.1', '0']);
    t.after(() => py.child.kill());
    const m = await py.waitFor(/Listening at \S+ (\d+)/);
    const r = await runCli(['echo-client', '127.0.0.1', m[1] ?? '0', '--idle', '3']);
    assert.equal(r.code, 0, r.stderr.text);
    assert.match(
      r.stdout.text,
      /Echoed 16 datagrams \(80,000 bytes\); stopped: the server said it is done/,
    );
    await py.waitFor(/16 of 16 packets echoed back/);
    assert.match(py.stdout(), /packet too big, cannot send/);
    assert.equal(await py.exited, 0);
  },
);
