/**
 * Loaded with `node --import` into the processes the start-up scenario measures: at exit,
 * writes the process's own CPU time and peak RSS (getrusage) to BENCH_USAGE_FILE.
 * No imports but node:fs, so it adds next to nothing to what it measures.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_USAGE_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ cpuMicros: usage.userCPUTime + usage.systemCPUTime, maxRssKb: usage.maxRSS }));
  });
}
