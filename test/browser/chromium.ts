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

/**
 * WebGPU on SwiftShader (Vulkan on the CPU): a real WebGPU adapter in headless Chromium, for
 * correctness only (it is far slower than a GPU). It replaces --disable-gpu.
 */
export const WEBGPU_ARGS = [
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan',
];

/** A persistent context (a real profile dir: OPFS and service workers behave as for a user). */
export async function launchChromium(
  options: { downloads?: string; webgpu?: boolean } = {},
): Promise<Browser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'bitnet2onnx-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: options.webgpu
      ? [...CHROMIUM_ARGS.filter((a) => a !== '--disable-gpu'), ...WEBGPU_ARGS]
      : CHROMIUM_ARGS,
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
