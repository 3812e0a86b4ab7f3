/**
 * Imported first by the CLI. Streaming keeps the live heap small (a Parquet row group is
 * ~25-40 MB live), but V8's default growth lets the heap reach ~4× the live size between
 * full GCs, so a Parquet load peaked at 230-300 MB RSS. A gentler growth factor keeps it
 * near 175 MB at no measured speed cost (--optimize-for-size was 2-3× slower).
 * https://v8.dev/blog/trash-talk — heap growing strategy.
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--heap-growing-percent=50');
