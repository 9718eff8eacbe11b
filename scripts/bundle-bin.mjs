// bundle-bin.mjs - run by `npm run build` after tsc: bundles the CLI's start-up path into one
// file, build/src/bin.js, so that `udplab client HOST PORT` loads one module instead of 16.
//
// Why: loading an ES module costs ~0.3-0.5 ms (resolution, a file read on the thread pool,
// compilation, linking) and the extra garbage triggered young-generation GCs; bundling took the
// cold start from ~1.18x to 1.03-1.07x a bare Node dgram client (docs/performance.md).
//
// What: esbuild (bundling only: its input is tsc's JavaScript) takes tsc's build/src/bin.js and
// everything it imports statically (cli/main.js, the client's fast path and the modules under it)
// and writes the result over build/src/bin.js, the same folder, so every relative path still holds.
//
// Lazy imports (`await import('./x.js')`) of udplab's own modules are not bundled: they stay
// imports of tsc's unbundled files, so the bundle is one file and nothing under it depends on where
// it sits (backend/native.js finds the addon from its own URL). Such a module has its own copies of
// the modules it shares with the bundle (errors.js, output.js), so no object whose identity or
// state matters may cross between the two: each lazy import is listed below with the reason it
// cannot, and any other one fails the build until someone has checked that and listed it.
//
// Usage: node scripts/bundle-bin.mjs   (after tsc; `npm run build` runs both)
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(repo, 'build', 'src');
const entry = join(outdir, 'bin.js');
/** The lazy imports left unbundled (paths under build/src), and why nothing crosses with them. */
const UNBUNDLED = new Map([
  [
    'cli/program.js',
    'the commander half: main.ts passes it io and takes back the exit code (src/cli/main.ts)',
  ],
  [
    'wire/sealed.js',
    'request() imports the sealed codec only with a key, which the fast path never has: a sealed ' +
      '`udplab client -k` goes through program.js and its own unbundled client',
  ],
]);
const MARK = '// Bundled by scripts/bundle-bin.mjs';

const fail = (message) => {
  console.error(`bundle-bin: ${message}`);
  process.exit(1);
};

let source;
try {
  source = readFileSync(entry, 'utf8');
} catch {
  fail(`${relative(repo, entry)} is missing: run tsc first (npm run build does)`);
}
if (source.includes(MARK)) {
  fail(`${relative(repo, entry)} is already a bundle: run tsc first (npm run build does)`);
}

const unlisted = [];
const result = await build({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true, // the bundle replaces tsc's bin.js in place
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external', // commander, picocolors: loaded from node_modules as before
  sourcemap: true, // chained through tsc's maps back to src/*.ts
  banner: { js: `${MARK} from tsc's output; edit src/, then npm run build.` },
  logLevel: 'warning',
  metafile: true,
  plugins: [
    {
      name: 'udplab-lazy-imports-stay-unbundled',
      setup(b) {
        b.onResolve({ filter: /^\.\.?\// }, (args) => {
          if (args.kind !== 'dynamic-import') return undefined;
          const target = relative(outdir, resolve(args.resolveDir, args.path)).replaceAll(
            '\\',
            '/',
          );
          if (!UNBUNDLED.has(target))
            unlisted.push(`${target} (from ${relative(repo, args.importer)})`);
          return { path: `./${target}`, external: true };
        });
      },
    },
  ],
});

if (unlisted.length > 0) {
  fail(
    `lazy imports not in UNBUNDLED: ${unlisted.join(', ')}. They would stay unbundled; list each ` +
      'with the reason no object (error class, module state) crosses between it and the bundle.',
  );
}
// Code moved into the bundle keeps the bundle's URL: refuse what would resolve elsewhere.
if (readFileSync(entry, 'utf8').includes('import.meta')) {
  fail('bin.js uses import.meta: relative URLs of a bundled module would point elsewhere');
}
const files = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
if (files.length !== 1) fail(`expected one output file, got ${files.join(', ')}`);
console.log(
  `bundle-bin: build/src/bin.js bundled (${Object.keys(result.metafile.inputs).length} modules; ` +
    `unbundled lazy imports: ${[...UNBUNDLED.keys()].join(', ')})`,
);
