/**
 * A real browser for the end-to-end tests: Debian's Chromium (apt-get install chromium; never
 * a browser downloaded by Playwright), headless, driven by playwright-core, with a fresh
 * profile in a temporary folder. A missing Chromium fails the tests with the command that
 * installs it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.IATTN_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(viewport = { width: 1440, height: 1000 }): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: the end-to-end tests need it. Install it with: apt-get update && apt-get install -y chromium (or set IATTN_CHROMIUM to a Chromium binary)`);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport,
    deviceScaleFactor: 1,
    acceptDownloads: true,
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
