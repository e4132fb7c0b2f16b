/** Debian's Chromium, headless, in a fresh profile, with every background connection it can make off. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface Browser {
  context: BrowserContext;
  profile: string;
  close(): Promise<void>;
}

/** A persistent context (a real profile dir: OPFS and service workers behave as for a user). */
export async function launchChromium(options: { downloads?: string } = {}): Promise<Browser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'bitnet2onnx-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    downloadsPath: options.downloads,
    viewport: { width: 1100, height: 900 },
    serviceWorkers: 'allow',
  });
  return {
    context,
    profile,
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}
