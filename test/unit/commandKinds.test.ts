/** bin.ts picks a bundle by the command's name before loading the program (src/cli/commandKinds.ts): the lists must match the commands. */
import { describe, expect, it } from 'vitest';
import { OFFLINE_COMMANDS, SERVICE_COMMANDS } from '../../src/cli/commandKinds.js';
import { COMMAND_NAMES } from '../../src/cli/program.js';

describe('command kinds', () => {
  it('every command is either a service command (code-cached bundle) or an offline one, never both', () => {
    for (const name of COMMAND_NAMES) expect([SERVICE_COMMANDS.has(name), OFFLINE_COMMANDS.has(name)], name).toSatisfy(([service, offline]: boolean[]) => service !== offline);
    const known = new Set([...COMMAND_NAMES, 'help', '--help', '-h']);
    expect([...SERVICE_COMMANDS, ...OFFLINE_COMMANDS].filter((name) => !known.has(name))).toEqual([]);
  });
});
