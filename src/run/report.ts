/** Human-readable run output for the terminal. */
import type { FileResult, RunOutput } from './output.js';

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/**
 * 1234567 → "1,234,567", as toLocaleString('en-US') prints it, without it: the first
 * toLocaleString of a process loads ICU's locale data, ~20 ms of CPU and ~7 MB RSS in every
 * CLI run that prints a line (bench/README.md, "Start-up").
 */
export function groupThousands(value: number): string {
  const rounded = Math.round(Math.abs(value) * 1000) / 1000; // at most 3 decimals, as toLocaleString
  const text = String(rounded);
  if (!Number.isFinite(value) || text.includes('e')) return value.toLocaleString('en-US');
  const [whole, fraction] = text.split('.');
  return `${value < 0 ? '-' : ''}${whole!.replace(/\B(?=(\d{3})+$)/g, ',')}${fraction === undefined ? '' : `.${fraction}`}`;
}

const n = groupThousands;

export function formatFileLine(file: FileResult): string {
  switch (file.status) {
    case 'Succeeded':
      return `  loaded   ${file.blob}: ${n(file.rowsCopied)} rows${file.rowsSkipped ? ` (${n(file.rowsSkipped)} skipped)` : ''}, ${formatBytes(file.dataRead)} in ${n(file.durationMs)} ms`;
    case 'Skipped':
      return `  skipped  ${file.blob}: this version (ETag ${file.etag}) is already loaded`;
    case 'Failed':
      return `  FAILED   ${file.blob}: ${file.error?.message ?? 'unknown error'}`;
  }
}

export function formatRunSummary(run: RunOutput): string {
  return [
    `pipeline ${run.pipeline}, run ${run.runId}: ${run.status}`,
    `  files: ${run.filesRead} loaded, ${run.filesSkipped} skipped (already loaded), ${run.filesFailed} failed`,
    `  rows:  ${n(run.rowsCopied)} copied of ${n(run.rowsRead)} read, ${n(run.rowsSkipped)} skipped`,
    `  data:  ${formatBytes(run.dataRead)} in ${n(run.copyDurationMs)} ms (${formatBytes(run.throughputBytesPerSec)}/s)`,
  ].join('\n');
}
