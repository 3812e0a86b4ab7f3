/**
 * Start-up: what a process pays before it does any work, measured as whole processes
 * (spawn to exit) in the same run as a bare `node -e 0`:
 *   - `blob2pg --help`, `blob2pg schema`;
 *   - `blob2pg run` of a one-row blob (the services already running; the blob is uploaded
 *     again before each run, so each run loads a new version into an existing ledger);
 *   - importing the Functions entry point with the host's registration API in place, as the
 *     Functions host does on a cold start: the deploy package's dist/functions/index.js (the
 *     esbuild bundle that is deployed), and this build's tsc output for comparison;
 *   - `blob2pg run` of the standard 5M-row CSV against `psql \copy` of the same file.
 * BENCH_STARTUP_CPU_PROF=<dir> writes a CPU profile of every one-row `run` there.
 * Each figure is the median of BENCH_STARTUP_RUNS runs (default 7), with the range. CPU
 * time and peak RSS come from the child itself (process.resourceUsage at exit, recorded
 * by bench/usage.ts), so they do not depend on sampling.
 *
 * BENCH_STARTUP_BASELINE=/path/to/other/dist also measures another build's processes in
 * the same runs (before/after: an older commit, built with its own `npm run build`, beside a
 * node_modules; its CLI bundle when it has one). The CLI measured is what package.json "bin" runs (the esbuild bundle
 * dist/cli/bin.js); `--help`, `schema` and the one-row `run` of the unbundled tsc output
 * (dist/src/cli/main.js) are measured in the same runs for comparison.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildDeployPackage } from '../../src/deploy/package.js';
import { interleave, median, ratios, spread, times, type Contender, type Measured } from '../measure.js';
import type { BenchContext, BenchRow } from '../types.js';

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 7);
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const root = path.resolve(dist, '..');
const usageHook = path.join(dist, 'bench/usage.js');

interface ProcessFigures {
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
}

/** One whole process: spawn to exit, with the child's own CPU time and peak RSS. */
async function measure(args: string[], env: Record<string, string>, scratch: string): Promise<ProcessFigures> {
  const usageFile = path.join(scratch, `usage-${process.hrtime.bigint()}.json`);
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', usageHook, ...args], { cwd: root, env: { ...process.env, ...env, BENCH_USAGE_FILE: usageFile }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`);
  const usage = JSON.parse(await readFile(usageFile, 'utf8')) as { cpuMicros: number; maxRssKb: number };
  return { seconds, cpuSeconds: usage.cpuMicros / 1e6, peakRssMb: usage.maxRssKb / 1024 };
}

const range = (values: number[], digits = 2) => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

interface Series {
  wall: number[];
  cpu: number[];
  rss: number[];
}

/** The processes are interleaved run by run, so a busy moment on the machine hits all of them. */
async function measureAll(cases: Record<string, { args: string[]; env?: Record<string, string>; before?: () => Promise<unknown> }>, scratch: string): Promise<Record<string, Series>> {
  const series: Record<string, Series> = {};
  for (const name of Object.keys(cases)) series[name] = { wall: [], cpu: [], rss: [] };
  // One warm-up round: the first spawn of a file pays the page cache, not start-up.
  for (let i = 0; i <= RUNS; i++) {
    for (const [name, c] of Object.entries(cases)) {
      await c.before?.();
      const figures = await measure(c.args, c.env ?? {}, scratch);
      if (i === 0) continue;
      series[name]!.wall.push(figures.seconds);
      series[name]!.cpu.push(figures.cpuSeconds);
      series[name]!.rss.push(figures.peakRssMb);
    }
  }
  return series;
}

function row(label: string, s: Series, bare: Series, target: string): BenchRow {
  const seconds = median(s.wall);
  const baseline = median(bare.wall);
  return {
    case: label,
    baseline: '`node -e 0`, same run',
    seconds,
    baselineSeconds: baseline,
    ratio: baseline / seconds,
    target,
    notes: `median of ${s.wall.length}: wall ${range(s.wall)} s (+${(seconds - baseline).toFixed(2)} s over node), CPU ${median(s.cpu).toFixed(2)} s (${range(s.cpu)}; node ${median(bare.cpu).toFixed(2)}), peak RSS ${median(s.rss).toFixed(0)} MB (${range(s.rss, 0)}; node ${median(bare.rss).toFixed(0)})`,
  };
}

/** The baseline's CLI as installed: its bundle (dist/cli/bin.js) when it has one, else its tsc output. */
function baselineCli(build: string): string {
  const bundle = path.join(build, 'cli/bin.js');
  return existsSync(bundle) ? bundle : path.join(build, 'src/cli/main.js');
}

/** The Functions host's registration API (src/local/host.ts of `build`; src/app/localHost.ts in builds before the move), then the entry point. */
function functionsImport(build: string, entry: string): string[] {
  const host = ['src/local/host.js', 'src/app/localHost.js'].map((file) => path.join(build, file)).find((file) => existsSync(file)) ?? path.join(build, 'src/local/host.js');
  const localHost = JSON.stringify(host);
  return ['--input-type=module', '-e', `const { installLocalHost } = await import(${localHost}); installLocalHost(); await import(${JSON.stringify(entry)});`];
}

export default async function startupScenario(ctx: BenchContext): Promise<BenchRow[]> {
  const scratch = await mkdtemp(path.join(ctx.scratchDir, 'startup-'));
  // What `blob2pg` runs once installed: package.json "bin".
  const manifest = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { bin: { blob2pg: string } };
  const cli = path.join(root, manifest.bin.blob2pg);
  // What the Functions host imports on Azure: the deploy package's dist/functions/index.js, an
  // esbuild bundle of this build's entry (src/deploy/package.ts; no npm install here — it
  // resolves the project's node_modules through a link, as the package's own would).
  const deployDir = path.join(scratch, 'deploy');
  await buildDeployPackage({ root, outDir: deployDir, distDir: dist, installDependencies: false });
  await symlink(path.join(root, 'node_modules'), path.join(deployDir, 'node_modules'), 'dir');
  const deployedEntry = path.join(deployDir, 'dist/functions/index.js');
  const pipelines = path.join(scratch, 'pipelines');
  // The Functions app loads its pipelines folder at start-up: give it one Schedule pipeline.
  await mkdir(pipelines);
  await writeFile(path.join(pipelines, 'orders.json'), JSON.stringify({ name: 'orders', source: { container: ctx.container.containerName, prefix: 'orders/' }, sink: { table: 'public.orders' }, triggers: [{ type: 'BlobCreated' }, { type: 'Schedule', schedule: '0 */15 * * * *' }] }));

  await ctx.pg.query('DROP TABLE IF EXISTS bench_one_row; CREATE TABLE bench_one_row (id int, name text)');
  const oneRowSpec = path.join(scratch, 'one-row.json');
  await writeFile(oneRowSpec, JSON.stringify({ name: 'bench-one-row', source: { container: ctx.container.containerName, prefix: 'one-row/' }, sink: { table: 'public.bench_one_row' } }));
  let n = 0;
  // A new version of the blob before each run: each run loads one row, into a ledger that exists.
  const uploadOneRow = () => ctx.container.getBlockBlobClient('one-row/one.csv').uploadData(Buffer.from(`id,name\n${++n},row ${n}\n`));
  const runEnv = { ...ctx.env, BLOB2PG_LEDGER_SCHEMA: `bench_startup_${Date.now()}` };
  await uploadOneRow();
  await measure([cli, 'run', oneRowSpec], runEnv, scratch); // creates the ledger

  // BENCH_STARTUP_CPU_PROF=<dir>: every one-row `run` writes a V8 CPU profile there (not allowed in NODE_OPTIONS).
  const profileDir = process.env.BENCH_STARTUP_CPU_PROF;
  const profileArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  /** The four processes of one build: `main` is its CLI, `functionsEntry` its Functions entry point. */
  const cases = (build: string, main: string, functionsEntry: string) => ({
    help: { args: [main, '--help'] },
    schema: { args: [main, 'schema'] },
    run: { args: [...profileArgs, main, 'run', oneRowSpec], env: runEnv, before: uploadOneRow },
    functions: { args: functionsImport(build, functionsEntry), env: { BLOB2PG_PIPELINES: pipelines } },
  });
  const variants: Array<{ label: string; prefix: string; build: string; main: string; functionsEntry: string; target?: string }> = [
    { label: 'this build', prefix: '', build: dist, main: cli, functionsEntry: deployedEntry },
  ];
  const baseline = process.env.BENCH_STARTUP_BASELINE;
  if (baseline) variants.push({ label: 'baseline build', prefix: `baseline build (${baseline}): `, build: baseline, main: baselineCli(baseline), functionsEntry: path.join(baseline, 'functions/index.js'), target: 'before' });
  variants.push({ label: 'unbundled', prefix: 'unbundled tsc output (dist/src/cli/main.js): ', build: dist, main: path.join(dist, 'src/cli/main.js'), functionsEntry: path.join(dist, 'functions/index.js'), target: 'comparison' });
  const rows: BenchRow[] = [];
  try {
    ctx.log(`startup: ${RUNS} runs of each process, ${variants.map((v) => v.label).join(', ')} …`);
    const all: Record<string, { args: string[]; env?: Record<string, string>; before?: () => Promise<unknown> }> = { node: { args: ['-e', '0'] } };
    for (const [i, v] of variants.entries()) for (const [name, c] of Object.entries(cases(v.build, v.main, v.functionsEntry))) all[`${i}:${name}`] = c;
    const s = await measureAll(all, scratch);
    const { rows: loaded } = await ctx.pg.query('SELECT count(*)::int AS n FROM bench_one_row');
    if (loaded[0].n !== n) throw new Error(`one-row runs loaded ${loaded[0].n} rows, expected ${n}`);
    for (const [i, v] of variants.entries()) {
      rows.push(
        row(`${v.prefix}\`blob2pg --help\`, whole process`, s[`${i}:help`]!, s.node!, v.target ?? '≤ 0.25 s'),
        row(`${v.prefix}\`blob2pg schema\`, whole process`, s[`${i}:schema`]!, s.node!, v.target ?? '≤ 0.25 s'),
        row(`${v.prefix}\`blob2pg run\`, one-row blob, whole process (services running)`, s[`${i}:run`]!, s.node!, v.target ?? '≤ 0.4 s'),
        row(`${v.prefix}import ${v.functionsEntry === deployedEntry ? "the deploy package's dist/functions/index.js (esbuild bundle)" : 'dist/functions/index.js (tsc output)'}, registrations, pipelines folder`, s[`${i}:functions`]!, s.node!, v.target ?? '≤ 0.4 s, ≤ 80 MB'),
      );
    }
    rows.push(...(await cliVersusPsql(ctx, variants.filter((v) => v.label !== 'unbundled'), scratch)));
  } finally {
    await ctx.pg.query('DROP TABLE IF EXISTS bench_one_row');
    await rm(scratch, { recursive: true, force: true });
  }
  return rows;
}

/**
 * Each build's whole CLI process on the standard CSV against `psql \copy` of the same file:
 * fair rounds (bench/measure.ts: a fresh table before each run, CHECKPOINT and no autovacuum,
 * the order reversed every other round), BENCH_REPEAT rounds (3); the ratio per round, median
 * and range — a round where a checkpoint of the previous load landed in one contender's run
 * no longer decides the figure.
 */
async function cliVersusPsql(ctx: BenchContext, builds: Array<{ prefix: string; main: string }>, scratch: string): Promise<BenchRow[]> {
  const table = 'bench_cli_copy';
  const reset = () => ctx.pg.query(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} ${ctx.narrowColumns}`);
  const spec = path.join(scratch, 'cli-copy.json');
  await writeFile(spec, JSON.stringify({ name: 'bench-cli-copy', source: { container: ctx.container.containerName, prefix: ctx.csvBlob }, sink: { table: `public.${table}` } }));
  const rounds = Number(process.env.BENCH_REPEAT ?? 3);
  const cliRuns: ProcessFigures[][] = builds.map(() => []);
  const checkLoaded = async (who: string) => {
    const { rows: loaded } = await ctx.pg.query(`SELECT count(*)::int AS n FROM ${table}`);
    if (loaded[0].n !== ctx.rows) throw new Error(`${who} loaded ${loaded[0].n} rows, expected ${ctx.rows}`);
  };
  const contenders: Contender[] = [
    ...builds.map((build, b) => ({
      name: `cli${b}`,
      prepare: reset,
      run: async () => {
        cliRuns[b]!.push(await measure([build.main, 'run', spec], { ...ctx.env, BLOB2PG_LEDGER_SCHEMA: `bench_cli_${Date.now()}` }, scratch));
        await checkLoaded('blob2pg');
      },
    })),
    {
      name: 'psql',
      prepare: reset,
      run: async () => {
        await promisify(execFile)('psql', [ctx.env.TARGET_POSTGRES!, '-q', '-c', `\\copy ${table} FROM '${ctx.csvFile}' (FORMAT csv, HEADER true)`]);
        await checkLoaded('psql');
      },
    },
  ];
  let measured: Map<string, Measured>;
  try {
    measured = await interleave(ctx.pg, contenders, rounds, ctx.log);
  } finally {
    await ctx.pg.query(`DROP TABLE IF EXISTS ${table}`);
  }
  const psql = measured.get('psql')!;
  return builds.map((build, b) => {
    const cli = measured.get(`cli${b}`)!;
    const perRound = ratios(cli, psql);
    const runs = cliRuns[b]!;
    return {
      case: `${build.prefix}\`blob2pg run\`, whole process, ${ctx.rows.toLocaleString('en-US')}-row CSV in Azurite`,
      baseline: 'psql \\copy of the local file, whole process',
      seconds: median(cli.seconds),
      baselineSeconds: median(psql.seconds),
      ratio: median(perRound),
      target: build.prefix ? 'before' : '≥ 0.95×',
      notes: `${spread(perRound)}; blob2pg ${times(cli)} (CPU ${range(runs.map((r) => r.cpuSeconds))} s, peak RSS ${Math.max(...runs.map((r) => r.peakRssMb)).toFixed(0)} MB), psql ${times(psql)}`,
    };
  });
}
