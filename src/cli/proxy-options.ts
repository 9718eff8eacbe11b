/**
 * The impairment options of `udplab proxy`: each exists as `--NAME` (both directions) and as
 * hidden `--up-NAME` / `--down-NAME`, generated from one table so that the three stay alike.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { mergeImpairments, type ImpairmentSpec } from '../impair.js';
import { describeImpairments } from '../impair/describe.js';
import { PROFILES, profileNames } from '../impair/profiles.js';
import {
  parseBlackout,
  parseBytes,
  parseLossBurst,
  parseMs,
  parseProbability,
  parseRate,
} from '../impair/units.js';

/** Wraps a units parser so commander reports its message as an invalid argument (exit 2). */
function arg<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
    }
  };
}

/** One impairment option: `--NAME`, and hidden `--up-NAME` / `--down-NAME`. */
interface ImpairmentOption {
  name: string;
  value: string;
  help: string;
  parse: (text: string, previous: unknown) => unknown;
  apply: (spec: ImpairmentSpec, value: unknown) => void;
}

/**
 * An option that sets the field `key` of a direction's spec; its parser must return that field's
 * type (checked here, once, instead of a cast in every row).
 */
function option<K extends keyof ImpairmentSpec>(o: {
  name: string;
  value: string;
  help: string;
  key: K;
  parse: (text: string, previous: ImpairmentSpec[K]) => ImpairmentSpec[K];
}): ImpairmentOption {
  return {
    name: o.name,
    value: o.value,
    help: o.help,
    parse: (text, previous) => o.parse(text, previous as ImpairmentSpec[K]),
    apply: (spec, value) => {
      spec[o.key] = value as ImpairmentSpec[K];
    },
  };
}

/** A whole number ≥ 1 (--reorder-gap, --limit). */
const atLeastOne = arg((t: string): number => {
  const v = Number(t);
  if (!/^\s*[0-9]+\s*$/.test(t) || v < 1) throw new RangeError('expected a whole number ≥ 1');
  return v;
});

const IMPAIRMENT_OPTIONS: readonly ImpairmentOption[] = [
  option({
    name: 'loss',
    value: '<p>',
    help: 'lose each datagram with probability P (0.3 or 30%)',
    key: 'loss',
    parse: arg(parseProbability),
  }),
  option({
    name: 'loss-burst',
    value: '<p,r>',
    help: 'Gilbert–Elliott burst loss: P good→bad, R bad→good per datagram (loss ≈ P/(P+R), bursts of 1/R); optional ,1-H,1-K as netem’s gemodel',
    key: 'lossBurst',
    parse: arg(parseLossBurst),
  }),
  option({
    name: 'delay',
    value: '<ms>',
    help: 'one-way delay in ms (100, 100ms, 0.1s)',
    key: 'delayMs',
    parse: arg(parseMs),
  }),
  option({
    name: 'jitter',
    value: '<ms>',
    help: 'jitter around --delay (needs it), ms: ± half-width (uniform) or σ (normal); can reorder, as netem',
    key: 'jitterMs',
    parse: arg(parseMs),
  }),
  option({
    name: 'jitter-dist',
    value: '<name>',
    help: 'jitter distribution: uniform (default) or normal',
    key: 'jitterDistribution',
    parse: arg((t) => {
      if (t !== 'uniform' && t !== 'normal') throw new RangeError('expected uniform or normal');
      return t;
    }),
  }),
  option({
    name: 'duplicate',
    value: '<p>',
    help: 'send a datagram twice with probability P',
    key: 'duplicate',
    parse: arg(parseProbability),
  }),
  option({
    name: 'reorder',
    value: '<p>',
    help: 'hold a datagram back behind later ones with probability P',
    key: 'reorder',
    parse: arg(parseProbability),
  }),
  option({
    name: 'reorder-gap',
    value: '<n>',
    help: 'a held-back datagram goes out after N later ones (default 1)',
    key: 'reorderGap',
    parse: atLeastOne,
  }),
  option({
    name: 'reorder-hold',
    value: '<ms>',
    help: '…or after this long at most, ms (default 50)',
    key: 'reorderHoldMs',
    parse: arg(parseMs),
  }),
  option({
    name: 'corrupt',
    value: '<p>',
    help: 'flip one random bit of a datagram with probability P',
    key: 'corrupt',
    parse: arg(parseProbability),
  }),
  option({
    name: 'rate',
    value: '<bits>',
    help: 'bottleneck rate (1mbit, 768kbit, 64000 bit/s; kbps/mbps are BYTES/s, as in tc)',
    key: 'rateBitsPerSecond',
    parse: arg(parseRate),
  }),
  option({
    name: 'burst',
    value: '<bytes>',
    help: 'token bucket depth for --rate (needs it; default 0: back to back, as netem)',
    key: 'burstBytes',
    parse: arg(parseBytes),
  }),
  option({
    name: 'limit',
    value: '<n>',
    help: 'at most N datagrams held in a direction; more are dropped and counted (default 1000)',
    key: 'queueLimit',
    parse: atLeastOne,
  }),
  option({
    name: 'blackout',
    value: '<from-to>',
    help: 'drop everything from FROM to TO seconds after the start (repeatable)',
    key: 'blackouts',
    parse: (t, prev) => [...(prev ?? []), arg(parseBlackout)(t)],
  }),
];

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The spec given on the command line under `prefix` ('' for both directions, 'up-', 'down-'). */
function specFrom(opts: Record<string, unknown>, prefix: string): ImpairmentSpec {
  const spec: ImpairmentSpec = {};
  const seen: string[] = [];
  for (const o of IMPAIRMENT_OPTIONS) {
    const v = opts[camel(prefix + o.name)];
    if (v === undefined) continue;
    seen.push(o.name);
    o.apply(spec, v);
  }
  if (seen.includes('loss') && seen.includes('loss-burst')) {
    throw new UsageError(`--${prefix}loss and --${prefix}loss-burst cannot be used together`);
  }
  return spec;
}

/** The profiles as help text, with their numbers. */
function profilesHelp(): string {
  const lines = profileNames().map((name) => {
    const p = PROFILES[name];
    if (p === undefined) return '';
    const up = describeImpairments(mergeImpairments(p.both, p.up ?? {}));
    const down = describeImpairments(mergeImpairments(p.both, p.down ?? {}));
    const numbers = up === down ? `  both: ${up}` : `  up:   ${up}\n    down: ${down}`;
    return `  ${name.padEnd(10)} ${p.description}\n  ${numbers}`;
  });
  return `\nProfiles (--profile NAME; options given with it override its values):\n${lines.join('\n')}\n`;
}

/** Adds every impairment option, and its hidden per-direction variants, to `cmd`. */
export function addImpairmentOptions(cmd: Command): Command {
  for (const o of IMPAIRMENT_OPTIONS) {
    cmd.addOption(new Option(`--${o.name} ${o.value}`, o.help).argParser(o.parse));
    for (const dir of ['up', 'down']) {
      cmd.addOption(new Option(`--${dir}-${o.name} ${o.value}`).argParser(o.parse).hideHelp());
    }
  }
  return cmd;
}

/** The help text on per-direction options and profiles. */
export function impairmentHelp(): string {
  return (
    '\nEvery impairment option also exists per direction: --up-NAME (client → server) and\n' +
    '--down-NAME (server → client), e.g. --down-loss 0.5 --up-rate 1mbit; they override --NAME.\n' +
    profilesHelp()
  );
}

/**
 * The impairments of each direction from the parsed options: the profile, its per-direction
 * part, then `--NAME`, then `--up-NAME` / `--down-NAME`.
 * @throws UsageError for an unknown profile, two loss models for one direction, or an option
 * without the one it needs in a direction (`--burst` without `--rate`, `--jitter` without `--delay`).
 */
export function impairmentsFrom(
  opts: Record<string, unknown>,
  profile: string | undefined,
): { up: ImpairmentSpec; down: ImpairmentSpec } {
  let up: ImpairmentSpec = {};
  let down: ImpairmentSpec = {};
  if (profile !== undefined) {
    const p = PROFILES[profile];
    if (p === undefined) {
      throw new UsageError(
        `unknown profile '${profile}': choose from ${profileNames().join(', ')}`,
      );
    }
    up = mergeImpairments(p.both, p.up ?? {});
    down = mergeImpairments(p.both, p.down ?? {});
  }
  const both = specFrom(opts, '');
  const specs = {
    up: mergeImpairments(mergeImpairments(up, both), specFrom(opts, 'up-')),
    down: mergeImpairments(mergeImpairments(down, both), specFrom(opts, 'down-')),
  };
  const check = { opts, profile, specs };
  needs(
    check,
    // Given at all, even as 0 (--help: "needs it"): a depth names a bucket, and 0 is its default
    // depth, which only a rate gives a meaning (test/proxy-cli.test.ts, '--burst 0').
    ['burst', (s, dir) => (s.burstBytes ?? 0) > 0 || given(opts, 'burst', dir) !== undefined],
    ['rate', (s) => s.rateBitsPerSecond !== undefined],
    ': a token bucket depth without a rate does nothing',
  );
  needs(
    check,
    ['jitter', (s) => (s.jitterMs ?? 0) > 0],
    ['delay', (s) => (s.delayMs ?? 0) > 0],
    " to vary around (as netem's 'delay TIME JITTER'); around 0, half of it would be clipped",
  );
  // Options that only shape another one: given without it (in a direction), they do nothing.
  // Checked only where the user gave them (a profile's jitter shape is not the user's doing).
  for (const [name, other, hasOther] of [
    ['jitter-dist', 'jitter', (s: ImpairmentSpec) => (s.jitterMs ?? 0) > 0],
    ['reorder-gap', 'reorder', (s: ImpairmentSpec) => (s.reorder ?? 0) > 0],
  ] as const) {
    for (const dir of ['up', 'down'] as const) {
      const option = given(opts, name, dir);
      if (option !== undefined && !hasOther(specs[dir])) {
        throw new UsageError(
          `--${option} needs --${other} in the ${dir} direction (--${other} or --${dir}-${other}): without it, it does nothing`,
        );
      }
    }
  }
  return specs;
}

/** The option (`DIR-NAME` or `NAME`) that the user gave for a direction, or undefined. */
function given(
  opts: Record<string, unknown>,
  name: string,
  dir: 'up' | 'down',
): string | undefined {
  return [`${dir}-${name}`, name].find((o) => opts[camel(o)] !== undefined);
}

type Has = (spec: ImpairmentSpec, dir: 'up' | 'down') => boolean;

/**
 * Refuses an impairment that does nothing, or not what it says, without another one in the same
 * direction (`--burst` without `--rate`, `--jitter` without `--delay`): a usage error naming the
 * option that set it (`--NAME`, `--up-NAME`, or the profile) and the direction that lacks the other.
 * @throws UsageError
 */
function needs(
  c: {
    opts: Record<string, unknown>;
    profile: string | undefined;
    specs: Record<'up' | 'down', ImpairmentSpec>;
  },
  [name, has]: [string, Has],
  [other, hasOther]: [string, Has],
  why: string,
): void {
  const bad = (['up', 'down'] as const).filter(
    (d) => has(c.specs[d], d) && !hasOther(c.specs[d], d),
  );
  const source = (dir: 'up' | 'down'): string =>
    c.opts[camel(`${dir}-${name}`)] !== undefined
      ? `--${dir}-${name}`
      : c.opts[camel(name)] !== undefined
        ? `--${name}`
        : `the ${name} of --profile ${c.profile ?? ''}`;
  const [first, second] = bad;
  if (first === undefined) return;
  if (second !== undefined && source(first) === `--${name}` && source(second) === `--${name}`) {
    throw new UsageError(`--${name} needs --${other}${why}`);
  }
  throw new UsageError(
    `${source(first)} needs a ${other} in the ${first} direction (--${first}-${other} or --${other})`,
  );
}
