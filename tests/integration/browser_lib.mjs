// Helpers for the web UI's browser tests: Debian's chromium driven headless
// by playwright-core (installed in web/node_modules by scripts/setup.sh; it
// never downloads a browser), a fresh profile per run, and screenshots
// under build/test-artifacts/webui/ for a reviewer to look at.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT } from './lib.mjs';

export const CHROMIUM = process.env.CONTPROF_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'build/test-artifacts/webui');

export async function launchBrowser({ width = 1280, height = 900 } = {}) {
  const require = createRequire(path.join(ROOT, 'web/package.json'));
  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core is not installed in web/node_modules: run scripts/setup.sh (${e.message})`);
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh (Debian package chromium)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'contprof-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width, height },
    acceptDownloads: true,
    timezoneId: 'Europe/Berlin',
  });
  context.setDefaultTimeout(10000);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // Failed fetches (a 404 for a service without a policy) are expected.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  return {
    context, page, problems,
    async shot(name) {
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
    },
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
