/** Generates the standard narrow CSV: id bigint, ts timestamp, x float8, label text, flag bool. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export const NARROW_HEADER = 'id,ts,x,label,flag\n';
export const NARROW_COLUMNS = '(id bigint, ts timestamp, x float8, label text, flag bool)';

/** Deterministic: the same rows every run, so figures compare across runs. */
export function narrowRow(i: number): string {
  const ts = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString().slice(0, 19).replace('T', ' ');
  // Every 7th label needs quoting (a comma), every 13th holds a doubled quote.
  const label = i % 13 === 0 ? `"say ""${i}"""` : i % 7 === 0 ? `"item ${i}, boxed"` : `item-${i}`;
  return `${i},${ts},${(i * 0.731) % 1000},${label},${i % 3 === 0 ? 't' : 'f'}\n`;
}

/** Writes `rows` rows (with header) to `file`; returns the byte size. */
export async function writeNarrowCsv(file: string, rows: number, firstId = 1): Promise<number> {
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  let bytes = 0;
  let batch = NARROW_HEADER;
  for (let i = firstId; i < firstId + rows; i++) {
    batch += narrowRow(i);
    if (batch.length > 1 << 20) {
      bytes += Buffer.byteLength(batch);
      if (!out.write(batch)) await once(out, 'drain');
      batch = '';
    }
  }
  bytes += Buffer.byteLength(batch);
  out.end(batch);
  await once(out, 'finish');
  return bytes;
}

/** The same five columns as Parquet (hyparquet-writer schema), for the format bench and tests. */
export const NARROW_PARQUET_SCHEMA = [
  { name: 'root', num_children: 5 },
  { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
  { name: 'ts', type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' }, repetition_type: 'OPTIONAL' },
  { name: 'x', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'label', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'flag', type: 'BOOLEAN', repetition_type: 'OPTIONAL' },
] as const;
