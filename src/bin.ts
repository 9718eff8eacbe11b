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
// A closed pipe (`udplab server … | head`) must not crash the process.
process.stdout.on('error', () => undefined);

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
  env: process.env,
  atExit: (fn) => process.once('exit', fn),
});
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
