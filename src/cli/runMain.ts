/** One CLI process: runs the command in argv, closes the pools it opened, sets the exit code. */
import './heap.js';
import { closeCliPools, runCli } from './program.js';

export async function runMain(argv: string[]): Promise<void> {
  const code = await runCli(argv);
  await closeCliPools().catch(() => undefined);
  process.exitCode = code;
}
