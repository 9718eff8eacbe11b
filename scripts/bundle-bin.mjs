// bundle-bin.mjs - run by `npm run build` after tsc: bundles the CLI's start-up path into one
// file, build/src/bin.js, so that `udplab client HOST PORT` loads one module instead of 16.
//
// Why: loading an ES module costs ~0.3-0.5 ms (resolution, a file read on the thread pool,
// compilation, linking) and the extra garbage triggered young-generation GCs; bundling took the
// cold start from ~1.18x to ~1.05x a bare Node dgram client (docs/performance.md).
//
// What: esbuild (bundling only: its input is tsc's JavaScript, so nothing is transpiled twice)
// takes tsc's build/src/bin.js and everything it imports statically (cli/main.js, the client's
// fast path and the modules under it) and writes the result over build/src/bin.js. The one
// dynamic import of cli/program.js (the commander half: every other command) stays a dynamic
// import of tsc's unbundled file, at the same relative path, so the bundle is a drop-in
// replacement in the same folder. Modules that the bundled half imports lazily (the sealed codec,
// which the library's request() needs with a key; never reached by the fast path) are bundled
// too, as chunks in build/src/bin-chunks/, so that no module of the bundled half is ever loaded
// twice in one process.
//
// Usage: node scripts/bundle-bin.mjs   (after tsc; `npm run build` runs both)
import { build } from 'esbuild';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(repo, 'build', 'src');
const entry = join(outdir, 'bin.js');
const chunkDir = 'bin-chunks';
/** Left unbundled: the commander half (cli/main.ts explains why nothing may cross the line). */
const boundary = join(outdir, 'cli', 'program.js');
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

rmSync(join(outdir, chunkDir), { recursive: true, force: true });
const result = await build({
  entryPoints: [entry],
  outdir,
  entryNames: '[name]',
  chunkNames: `${chunkDir}/[name]-[hash]`,
  allowOverwrite: true, // the bundle replaces tsc's bin.js in place
  bundle: true,
  splitting: true,
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
      name: 'udplab-unbundled-commander-half',
      setup(b) {
        b.onResolve({ filter: /program\.js$/ }, (args) =>
          resolve(args.resolveDir, args.path) === boundary
            ? { path: `./${relative(outdir, boundary)}`, external: true }
            : undefined,
        );
      },
    },
  ],
});

// The bundle sits where tsc's bin.js was, but its chunks do not, and code moved into it keeps the
// URL of the bundle: refuse what would break.
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
for (const out of outputs) {
  const text = readFileSync(join(repo, out), 'utf8');
  if (text.includes('import.meta')) {
    fail(`${out} uses import.meta: its relative URLs would point elsewhere once bundled`);
  }
  if (!out.endsWith('/bin.js') && text.includes(relative(outdir, boundary))) {
    fail(`${out} imports cli/program.js from a chunk, where the relative path is wrong`);
  }
}
// The point of the bundle is one file on the fast path: say so when a change adds a second.
const eager = result.metafile.outputs['build/src/bin.js'].imports.filter(
  (i) => i.kind === 'import-statement' && !i.external,
);
if (eager.length > 0) {
  console.warn(
    `bundle-bin: warning: bin.js now loads ${eager.map((i) => i.path).join(', ')} at start ` +
      '(a module shared with a lazy chunk: see the KeyLoader note in src/cli/client-action.ts)',
  );
}
const chunks = readdirSync(join(outdir, chunkDir)).filter((f) => f.endsWith('.js'));
console.log(
  `bundle-bin: build/src/bin.js bundled (${chunks.length} lazy chunk${chunks.length === 1 ? '' : 's'} in build/src/${chunkDir}/)`,
);
