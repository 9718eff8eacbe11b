import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createServer } from '../src/index.js';
import { runClientFast } from '../src/cli/client-fast.js';
import type { CommandContext } from '../src/cli/context.js';
import { Capture, normaliseRun, runCli } from './helpers.js';

function ctx(): CommandContext {
  return { io: { stdout: new Capture(), stderr: new Capture(), env: {} }, exitCode: 0 };
}

test('fast path: declines (runs nothing) whatever commander must interpret', async () => {
  for (const args of [
    ['--help'],
    ['-h'],
    ['127.0.0.1'],
    ['127.0.0.1', '1060', 'extra'],
    ['--id', '42', '127.0.0.1', '1060'], // commander's `--id [id]` takes 42 as the ID
    ['127.0.0.1', '1060', '--id', '42'],
    ['127.0.0.1', '1060', '--id='],
    ['127.0.0.1', '1060', '-t', '0.5'], // numbers are parsed by commander's option parsers
    ['127.0.0.1', '1060', '-c', '3'],
    ['127.0.0.1', '1060', '-m', '--json'], // a value that looks like an option
    ['127.0.0.1', '1060', '--json=1'],
    ['127.0.0.1', '1060', '--bogus'],
    ['--', '127.0.0.1', '1060'],
    // Sealed mode: the fast path has no key loader (client-action.ts), commander's path has.
    ['127.0.0.1', '1060', '-k', 'lab.key'],
    ['127.0.0.1', '1060', '--key-file=lab.key'],
  ]) {
    const c = ctx();
    assert.equal(await runClientFast(args, c), false, args.join(' '));
    assert.equal(c.output, undefined, `${args.join(' ')}: nothing ran`);
  }
});

test('fast path and commander path print the same thing', async (t) => {
  const server = await createServer({ host: '127.0.0.1', port: 0, perDatagramEvents: false });
  t.after(() => server.close());
  const port = String(server.address.port);
  // `-t 0.1` is the default first wait: it changes nothing but sends the run through commander.
  const viaCommander = ['-t', '0.1'];
  for (const args of [
    ['127.0.0.1', port],
    ['127.0.0.1', port, '--json'],
    ['127.0.0.1', port, '-m', 'hello there', '--json'],
    ['--message=hi', '127.0.0.1', port],
    ['127.0.0.1', port, '--id'],
    ['127.0.0.1', port, '--id=12345', '--json'],
    ['127.0.0.1', port, '--id', '--json'],
    ['127.0.0.1', port, '--promiscuous'],
  ]) {
    const c = ctx();
    assert.equal(await runClientFast(args, c), true, args.join(' '));
    const fast = await runCli(['client', ...args]);
    const slow = await runCli(['client', ...args, ...viaCommander]);
    assert.equal(fast.code, 0, args.join(' '));
    assert.equal(fast.code, slow.code);
    assert.equal(normaliseRun(fast.stdout.text), normaliseRun(slow.stdout.text), args.join(' '));
    assert.equal(fast.stderr.text, slow.stderr.text);
  }
});

test('fast path: errors are reported exactly as through commander', async () => {
  for (const args of [
    ['127.0.0.1', 'abc'],
    ['127.0.0.1', '99999'],
    ['bad host!', '5000'],
    ['127.0.0.1', '5000', '--id=12x'],
  ]) {
    const fast = await runCli(['client', ...args]);
    const slow = await runCli(['client', ...args, '-t', '0.1']);
    assert.equal(fast.code, 2, args.join(' '));
    assert.equal(fast.stderr.text, slow.stderr.text);
    assert.equal(fast.stdout.text, slow.stdout.text);
  }
});
