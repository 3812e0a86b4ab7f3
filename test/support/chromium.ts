/**
 * The browser the page tests drive: Debian's chromium at /usr/bin/chromium. CI (`.ci/run`,
 * root on a fresh machine) has none, so the tests install it themselves when it is missing
 * and they run as root: `apt-get update && apt-get install -y chromium`. Anywhere else a
 * missing browser is a skip that says why (and how to install it), never a silent pass.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export const CHROMIUM = '/usr/bin/chromium';

const run = promisify(execFile);

/** undefined when the browser is there (or was just installed); otherwise why it is not. */
export async function ensureChromium(): Promise<string | undefined> {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    return `${CHROMIUM} is missing and this is not root on Debian/Ubuntu, so the tests cannot install it: run \`sudo apt-get install -y chromium\``;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['update'], { env, maxBuffer: 64 * 1024 * 1024 });
    await run('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { env, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    return `installing chromium with apt-get failed: ${(err as Error).message.split('\n')[0]}`;
  }
  return existsSync(CHROMIUM) ? undefined : `apt-get installed chromium but ${CHROMIUM} is not there`;
}

/** Headless Chromium with no network of its own (no updates, sync or QUIC) and a fresh profile. */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const profile = await mkdtemp(path.join(tmpdir(), 'blob2pg-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
  });
}
