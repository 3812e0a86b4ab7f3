/** The contract between the benchmark runner (bench/run.ts) and each scenario. */
import type pg from 'pg';
import type { ContainerClient } from '@azure/storage-blob';

export interface BenchContext {
  /** SOURCE_STORAGE (Azurite) and TARGET_POSTGRES (embedded PostgreSQL) connection settings. */
  env: Record<string, string>;
  /** Rows in the standard narrow data set (5,000,000 unless BENCH_ROWS says otherwise). */
  rows: number;
  /** BENCH_REPEAT: interleaved rounds per comparison (bench/measure.ts). */
  repeat: number;
  /** The standard narrow CSV on local disk, readable by the postgres OS user (for server-side COPY). */
  csvFile: string;
  /** The same file uploaded to `container` under this blob name. */
  csvBlob: string;
  /** DDL of the narrow table: `(id bigint, ts timestamp, x float8, label text, flag bool)`; header `id,ts,x,label,flag`. */
  narrowColumns: string;
  container: ContainerClient;
  pg: pg.Pool;
  /** Times `fn` once after a warm-up-free run; returns seconds. */
  time(fn: () => Promise<unknown>): Promise<number>;
  log(line: string): void;
  /** A scratch directory for generated files (deleted after the run). */
  scratchDir: string;
}

export interface BenchRow {
  case: string;
  /** What it is measured against, e.g. "server-side COPY FROM file". */
  baseline: string;
  seconds: number;
  baselineSeconds: number;
  /** baselineSeconds / seconds: > 1 means faster than the baseline. */
  ratio: number;
  /** e.g. "≥ 0.95×" */
  target: string;
  /** Extra figures (rows/s, MB/s, peak RSS MB …). */
  notes?: string;
}

export type BenchScenario = (ctx: BenchContext) => Promise<BenchRow[]>;
