#!/usr/bin/env node
/**
 * The only file that touches process: argv, signals, exit code. SIGINT/SIGTERM abort the
 * running command (servers print their summary and exit 0); a second one exits at once.
 */
import { main } from './cli/main.js';

const controller = new AbortController();
let interrupted = 0;
const onSignal = (signal: NodeJS.Signals): void => {
  interrupted++;
  if (interrupted > 1) process.exit(signal === 'SIGINT' ? 130 : 143);
  controller.abort(new Error(signal));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// A closed pipe (`udplab server … --json | head -1`): the reader is gone, so stop the command as
// Ctrl-C does (its summary has nowhere to go) instead of serving on unheard. Never crash on it.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE' && !controller.signal.aborted) controller.abort(new Error('EPIPE'));
});

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
  env: process.env,
  atExit: (fn) => process.once('exit', fn),
});
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
