/**
 * `npm run bench -- lab`: the device lab (issue 20) in Debian's chromium. Prints the bundle's size
 * (raw and gzipped; target under 300 kB gzipped) and how long the page takes to run ten years of
 * normal use (3 presses a day) at `max` speed (target under 5 s), beside ten years of the same
 * device's clock run by the emulator in Node in this process (the baseline, day by day, no presses). Also writes
 * the README's screenshot, docs/lab.png. A benchmark, never a timed test.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { Machine } from '../emulator/src/machine.js';
import { main as kodeviser } from '../emulator/src/cli/main.js';
import { buildLab, LAB_OUT } from '../scripts/build-lab.js';
import { freshSettings, startServerProcess } from '../test/helpers/server-process.js';

const CHROMIUM = '/usr/bin/chromium';
const YEAR_MS = 365.25 * 86_400_000;
const T0 = Date.UTC(2026, 0, 5, 9);

export async function main(): Promise<void> {
  const size = await buildLab({ quiet: true });
  console.log(
    `bundle: lab.js ${(size.bytes / 1024).toFixed(1)} kB, ${(size.gzipped / 1024).toFixed(1)} kB gzipped (target < 300 kB gzipped: ${size.gzipped < 300 * 1024 ? 'met' : 'NOT met'})`,
  );

  // Baseline: ten years of the same device's clock in Node, in steps of a day.
  const node = Machine.manufacture({ profile: 'totp-sha1', manufacturedAt: T0, seed: 1, driftPpm: 5 });
  let began = performance.now();
  for (let day = 1; day <= 3653; day++) node.advanceTo((T0 + day * 86_400_000) * 1000);
  const nodeMs = performance.now() - began;
  console.log(`baseline: ten years of the clock in Node (day by day): ${(nodeMs / 1000).toFixed(2)} s`);

  if (!existsSync(CHROMIUM)) {
    console.log(`chromium: ${CHROMIUM} not found (apt-get install chromium): the page's figure is not measured`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-bench-lab-'));
  const settings = freshSettings();
  const file = join(dir, 'device.json');
  const io = {
    stdout: () => undefined,
    stderr: (s: string) => void process.stderr.write(s),
    async *lines() {},
    interactive: false,
    nowMs: () => T0,
    path: (p: string) => resolve(p),
  };
  await kodeviser(['manufacture', '--profile', 'totp-sha1', '--at', new Date(T0).toISOString(), '--out', file], io);
  const server = await startServerProcess({ ...settings, env: { KODEVISER_LAB_DIR: LAB_OUT, KODEVISER_LAB_DEVICE: file } });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    await page.goto(`${server.url}/lab/`);
    await page.getByTestId('lcd').waitFor();
    await page.getByRole('button', { name: 'Press' }).click();
    await page.screenshot({ path: join(process.cwd(), 'docs', 'lab.png') });
    console.log('screenshot: docs/lab.png');

    const trueClock = async (): Promise<number> => Date.parse((await page.getByTestId('true-clock').textContent()) ?? '');
    const from = await trueClock();
    // Normal use: the lab presses the button 3 times a day while time runs.
    await page.getByTestId('normal-use').check();
    await page.getByTestId('speed').selectOption('max');
    began = performance.now();
    while ((await trueClock()) < from + 10 * YEAR_MS) {
      if (performance.now() - began > 120_000) throw new Error('ten years did not pass within 120 s');
      await page.waitForTimeout(50);
    }
    const pageMs = performance.now() - began;
    console.log(
      `page: ten years of normal use (3 presses a day) at max in chromium: ${(pageMs / 1000).toFixed(2)} s (target < 5 s: ${pageMs < 5000 ? 'met' : 'NOT met'}; ${(pageMs / nodeMs).toFixed(1)}× the Node baseline)`,
    );
  } finally {
    await browser.close();
    await server.stop();
    settings.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
