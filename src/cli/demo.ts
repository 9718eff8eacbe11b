/** `udplab demo`: the lab in one command, narrated for a student. */
import type { Command } from 'commander';
import { demoParts, runDemo } from '../demo/index.js';
import type { CheckEvent, NoteEvent, RoleEvent, StepEvent } from '../demo/context.js';
import type { BaseEvent } from '../events.js';
import { UsageError } from '../errors.js';
import { renderBigsend } from './bigsend.js';
import { renderClient } from './client.js';
import { openOutput, withCommonOptions, withExamples, type CommandContext } from './context.js';
import type { Colors, Renderer } from './output.js';
import { renderEchoClient } from './echo-client.js';
import { loadKeyOption } from './keys.js';
import { renderProbe } from './probe.js';
import { renderProxy } from './proxy.js';
import { renderServer } from './server.js';
import { renderSpoof } from './spoof.js';

/** Renderers of the programs a demo runs, by role. Parts added later register theirs here. */
const roleRenderers: Record<string, Renderer> = {
  server: renderServer,
  client: renderClient,
  spoofer: renderSpoof,
  bigsend: renderBigsend,
  'echo-client': renderEchoClient,
  probe: renderProbe,
  proxy: renderProxy,
};

/** Human lines for the demo. */
export function renderDemo(event: BaseEvent, c: Colors): string | undefined {
  switch (event.event) {
    case 'step': {
      const e = event as StepEvent;
      return ['', c.bold(c.cyan(`== ${e.title}`)), ...e.text.map((t) => `   ${t}`)].join('\n');
    }
    case 'note':
      return `   ${(event as NoteEvent).text}`;
    case 'check': {
      const e = event as CheckEvent;
      return e.ok ? c.green(`   ✔ ${e.text}`) : c.red(`   ✘ ${e.text}`);
    }
    default: {
      const e = event as RoleEvent;
      const render = roleRenderers[e.role];
      const text = render?.(e, c);
      if (text === undefined) return undefined;
      return text
        .split('\n')
        .map((l) => `   ${c.dim(`[${e.role}]`.padEnd(13))} ${l}`)
        .join('\n');
    }
  }
}

/** Defines `udplab demo`. */
export function defineDemo(cmd: Command, ctx: CommandContext): void {
  const names = demoParts.map((p) => p.name);
  withExamples(
    withCommonOptions(
      cmd
        .description(
          'run the whole lab on loopback (127.0.0.1) in one command, narrated: no set-up needed',
        )
        .option('--only <parts>', `run only these parts, comma-separated (${names.join(', ')})`)
        .option(
          '-k, --key-file <file>',
          'the key of the sealed part (udplab keygen); default a new random key',
        ),
    ),
    ['udplab demo', `udplab demo --only ${names[0] ?? ''}`, 'udplab demo --json'],
  ).action(async (opts: { only?: string; json?: boolean; keyFile?: string }) => {
    const only = opts.only?.split(',').map((s) => s.trim());
    const unknown = only?.filter((n) => !names.includes(n)) ?? [];
    if (unknown.length > 0)
      throw new UsageError(
        `unknown demo part '${unknown.join(',')}': choose from ${names.join(', ')}`,
      );
    const key = await loadKeyOption(ctx, opts.keyFile);
    const out = openOutput(ctx, opts.json ?? false, renderDemo);
    out.line(out.colors.bold('udplab demo — the UDP socket-programming lab, on loopback'));
    const failures = await runDemo({
      onEvent: out.emit,
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
      ...(only ? { only } : {}),
      ...(key ? { key } : {}),
    });
    out.line('');
    out.line(
      failures === 0
        ? out.colors.green('Demo finished: every step behaved as the lab says.')
        : out.colors.red(`Demo finished with ${failures} failed check(s).`),
    );
    out.flush();
    ctx.exitCode = failures === 0 ? 0 : 1;
  });
}
