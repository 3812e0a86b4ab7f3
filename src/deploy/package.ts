/**
 * The Functions deployment package: exactly what runs on the host, staged in one folder that
 * azd zips (azure.yaml `dist: .deploy`, built by its `prepackage` hook).
 *
 * What goes in (an allow-list, so nothing else can slip in — no test/, bench/ or its data,
 * .git, .blob2pg/, TypeScript sources, dist/src/):
 *   dist/functions/              the entry point (package.json "main") as an esbuild ES module
 *                                bundle with source maps; split, so formats and writers the app
 *                                loads lazily are chunks loaded only when a spec needs them.
 *                                Compiling one file instead of ~950 halves the cold start
 *                                (bench/README.md, "Start-up").
 *   host.json, pipelines/        host settings and the deployed pipeline files
 *   package.json                 without "scripts": a remote `npm install` on the host must not
 *                                try to run a build (tsc is a dev dependency and absent there)
 *   package-lock.json            so the production install below is the tested dependency tree
 *   node_modules/                production dependencies only (`npm ci --omit=dev`)
 *
 * node_modules stays although the bundle holds most of it: the lazy createRequire() loads of
 * unzipper, tar-stream, unbzip2-stream and iconv-lite (src/format/) are runtime requires
 * esbuild cannot see, and a complete production tree is the robust answer to any other one.
 * Shipping node_modules means the host never builds anything: the package that starts is
 * the package test/integration/deployPackage.test.ts starts.
 *
 * Usage: node dist/src/deploy/package.js <outDir>   (npm run package:deploy → .deploy/)
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bundle } from './bundle.js';

/** Top-level entries of the package, besides node_modules/. */
export const PACKAGE_CONTENTS = ['dist/functions', 'host.json', 'pipelines', 'package.json', 'package-lock.json'] as const;

export interface DeployPackageOptions {
  /** The project root (holds package.json and dist/). */
  root: string;
  /** Emptied, then filled. */
  outDir: string;
  /** The compiled output to ship (default root/dist). */
  distDir?: string;
  /** Install production dependencies into outDir/node_modules (default true). */
  installDependencies?: boolean;
}

function npmCommand(): { file: string; prefix: string[] } {
  // Under `npm run`, npm_execpath is npm's own CLI script: run it with this node, no shell.
  const execPath = process.env.npm_execpath;
  if (execPath && /npm-cli\.js$/.test(execPath)) return { file: process.execPath, prefix: [execPath] };
  return { file: process.platform === 'win32' ? 'npm.cmd' : 'npm', prefix: [] };
}

export async function buildDeployPackage(options: DeployPackageOptions): Promise<void> {
  const { root, outDir } = options;
  const distDir = options.distDir ?? path.join(root, 'dist');
  if (!existsSync(path.join(distDir, 'functions/index.js'))) {
    throw new Error(`${distDir} has no functions/index.js: run \`npm run build\` first`);
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const entry of PACKAGE_CONTENTS) {
    if (entry === 'package.json' || entry === 'dist/functions') continue;
    cpSync(path.join(root, entry), path.join(outDir, entry), { recursive: true });
  }
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  delete manifest.scripts;
  writeFileSync(path.join(outDir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');

  if (options.installDependencies !== false) {
    const npm = npmCommand();
    // --ignore-scripts: no dependency of the app needs an install script, and none may build.
    await promisify(execFile)(npm.file, [...npm.prefix, 'ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: outDir,
      maxBuffer: 16 * 1024 * 1024,
    });
  }
  // Bundled from the package's own production tree first (the code the host will run), the
  // project's as a fallback when no install was asked for or distDir is outside the project.
  const nodePaths = [path.join(outDir, 'node_modules'), path.join(root, 'node_modules')].filter((p) => existsSync(p));
  // @azure/functions-core is not a package: the Functions worker provides it at run time.
  await bundle({ entryPoints: [path.join(distDir, 'functions/index.js')], outdir: path.join(outDir, 'dist/functions'), nodePaths, external: ['@azure/functions-core'] });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const outDir = path.resolve(process.argv[2] ?? '.deploy');
  buildDeployPackage({ root, outDir }).then(
    () => console.log(`blob2pg: deployment package in ${outDir}`),
    (err: Error) => {
      console.error(`blob2pg: cannot build the deployment package: ${err.message}`);
      process.exitCode = 1;
    },
  );
}
