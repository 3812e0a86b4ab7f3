/**
 * Fair timing of a load against its baseline on a shared machine: every contender runs
 * once per round, the order reversed every other round (A B, B A, A B …) so a warm cache or
 * a drifting neighbour favours neither, and before each timed run the server is brought to
 * the same state — a CHECKPOINT (so the previous run's dirty buffers are not written during
 * this one: a 5M-row load leaves ~0.5 GB of WAL and a checkpoint landing in one run but not
 * the other moved the copy ratio from 1.24× to 0.69× in one session) and a wait for
 * autovacuum workers to finish. Ratios are taken per round (same round's baseline), and
 * reported as the median with the range, never the best run.
 */
import type pg from 'pg';
import { cpuSince, cpuSnapshot, type CpuSnapshot } from './procCpu.js';

export interface Contender {
  name: string;
  /** Untimed set-up before each run (fresh table, fresh ledger schema …). */
  prepare?: () => Promise<unknown>;
  /** The timed work. */
  run: () => Promise<unknown>;
}

export interface Measured {
  seconds: number[];
  /** CPU seconds of Node, Azurite and PostgreSQL during each run (bench/procCpu.ts). */
  cpu: CpuSnapshot[];
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** CHECKPOINT, then wait (≤ 30 s) until no autovacuum worker runs. Not superuser: skipped. */
export async function settle(pool: pg.Pool): Promise<void> {
  try {
    await pool.query('CHECKPOINT');
  } catch {
    // A TARGET_POSTGRES the bench is not superuser on: nothing to do about it.
  }
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'");
    if (!rows[0]!.n) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The run order of round `round`: as given on even rounds, reversed on odd ones. */
export function roundOrder<T>(items: T[], round: number): T[] {
  return round % 2 ? [...items].reverse() : items;
}

/** `rounds` interleaved rounds of every contender; seconds and CPU per run, by name. */
export async function interleave(pool: pg.Pool, contenders: Contender[], rounds: number, log: (line: string) => void): Promise<Map<string, Measured>> {
  const out = new Map<string, Measured>(contenders.map((c) => [c.name, { seconds: [], cpu: [] }]));
  for (let round = 0; round < rounds; round++) {
    for (const c of roundOrder(contenders, round)) {
      await c.prepare?.();
      await settle(pool);
      const before = cpuSnapshot();
      const started = performance.now();
      await c.run();
      const seconds = (performance.now() - started) / 1000;
      const cpu = cpuSince(before);
      out.get(c.name)!.seconds.push(seconds);
      out.get(c.name)!.cpu.push(cpu);
      log(`round ${round + 1}: ${c.name} ${seconds.toFixed(2)} s (CPU s: Node ${cpu.node.toFixed(2)}, PostgreSQL ${cpu.postgres.toFixed(2)}, Azurite ${cpu.azurite.toFixed(2)})`);
    }
  }
  return out;
}

/** baseline / contender per round (> 1 = the contender is faster). */
export function ratios(contender: Measured, baseline: Measured): number[] {
  return contender.seconds.map((s, i) => baseline.seconds[i]! / s);
}

const two = (n: number) => n.toFixed(2);

/** "median 0.98× (0.91–1.05×, 3 interleaved runs)". */
export function spread(values: number[]): string {
  return `median ${two(median(values))}× (${two(Math.min(...values))}–${two(Math.max(...values))}×, ${values.length} interleaved run${values.length === 1 ? '' : 's'})`;
}

/** "4.91 / 5.02 / 5.30 s". */
export function times(m: Measured): string {
  return `${m.seconds.map(two).join(' / ')} s`;
}

/** Median CPU seconds of one contender's runs: "CPU s Node 3.1, PostgreSQL 5.2, Azurite 1.0". */
export function cpuMedians(m: Measured): string {
  const of = (pick: (c: CpuSnapshot) => number) => median(m.cpu.map(pick)).toFixed(1);
  return `CPU s Node ${of((c) => c.node)}, PostgreSQL ${of((c) => c.postgres)}, Azurite ${of((c) => c.azurite)}`;
}
