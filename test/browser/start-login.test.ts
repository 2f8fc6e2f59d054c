/**
 * What README promises a new user, in a real browser (Debian's chromium through playwright-core):
 * `npm start` (scripts/start.js, on a fresh data directory), the demo device pressed in the device
 * lab, and its code used to log in as demo on /login in the next tab — with the mouse, and again
 * with the keyboard alone, and in Danish by the language switch. Any console error, page error or
 * CSP violation fails the test. KODEVISER_UPDATE_SCREENSHOTS=1 writes docs/login.png.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildLab } from '../../scripts/build-lab.js';
import { ensureBuilt, ROOT } from '../e2e/helpers/build.js';
import { haveChromium, launchChromium, watch } from './helpers.js';

const STEP_MS = 30_000;

if (haveChromium(t)) {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-start-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let url = '';
  let browser: Browser;
  let stopServer: () => Promise<void> = async () => undefined;
  /** The newest 30-second step whose code the server has seen (set once npm start is ready). */
  let spentStep = 0;

  t.before(async () => {
    ensureBuilt();
    await buildLab({ quiet: true });
    const child = spawn(process.execPath, ['scripts/start.js', '--port', '0'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: dir, KODEVISER_DATA_DIR: dir, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    stopServer = async () => {
      child.kill('SIGINT');
      await exited;
    };
    let out = '';
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        // The instructions end with this line, printed once the demo is ready.
        const m = /(http:\/\/127\.0\.0\.1:\d+)\/login\b/.exec(out);
        if (m && out.includes('Stop the server: Ctrl-C')) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`npm start exited (${code}): ${out}`)));
    });
    // npm start activated demo with a code of this step or one before: the lab presses after it.
    spentStep = Math.floor(Date.now() / STEP_MS);
    browser = await launchChromium();
  });
  t.teardown(async () => {
    await browser?.close();
    await stopServer();
  });

  /**
   * The demo device's next code, pressed in the lab: npm start activated it a moment ago with the
   * code of this 30-second step, which the server never accepts twice, so the press waits (as a
   * person would) for the step after the last code sent.
   */
  async function pressInLab(context: BrowserContext): Promise<string> {
    const wait = (spentStep + 1) * STEP_MS - Date.now() + 300;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const lab = await context.newPage();
    await lab.goto(`${url}/lab/`);
    await lab
      .getByTestId('serial')
      .filter({ hasText: /\d{2}-\d{7}-\d/ })
      .waitFor();
    await lab.getByRole('button', { name: 'Press' }).click();
    const lcd = lab.getByTestId('lcd');
    await lcd.filter({ hasText: /\d{6}/ }).waitFor();
    const code = /(\d{6})/.exec((await lcd.textContent()) ?? '')?.[1] ?? '';
    spentStep = Math.floor(Date.now() / STEP_MS);
    await lab.close();
    return code;
  }

  async function context(): Promise<{ context: BrowserContext; problems: string[] }> {
    const c = await browser.newContext();
    const problems: string[] = [];
    await watch(c, problems);
    return { context: c, problems };
  }

  t.test('npm start, press the demo device in the lab, log in as demo on /login', async (t) => {
    const { context: c, problems } = await context();
    const code = await pressInLab(c);
    const page: Page = await c.newPage();
    await page.goto(`${url}/login`);
    await page.getByLabel('User ID').fill('demo');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('One-time code').fill(code);
    await page.getByLabel('Password').fill('demo-password-1');
    await page.getByRole('button', { name: 'Log in' }).click();
    t.equal(await page.getByTestId('success').textContent(), 'You are logged in as demo.');
    if (process.env.KODEVISER_UPDATE_SCREENSHOTS === '1') {
      await page.getByText('Receipt', { exact: true }).click();
      await page.setViewportSize({ width: 900, height: 600 });
      await page.keyboard.press('Tab'); // the focus ring off the summary clicked open
      await page.screenshot({ path: join(ROOT, 'docs', 'login.png'), fullPage: true });
    }
    t.same(problems, [], 'no console error, page error or CSP violation');
    await c.close();
  });

  t.test('the keyboard alone logs in, and the switch shows the pages in Danish', async (t) => {
    const { context: c, problems } = await context();
    const code = await pressInLab(c);
    const page = await c.newPage();
    await page.goto(`${url}/login`);
    // The language switch, reached by Tab and followed with Enter.
    const dansk = page.getByRole('link', { name: 'Skift til dansk' });
    await dansk.focus();
    await page.keyboard.press('Enter');
    await page.getByLabel('Bruger-id').waitFor();
    t.equal(await page.locator('html').getAttribute('lang'), 'da');
    t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Log på');
    // The user ID field has the focus when the page opens (autofocus): type, Enter.
    t.equal(await page.evaluate('document.activeElement?.id'), 'userId');
    await page.keyboard.type('demo');
    await page.keyboard.press('Enter');
    await page.getByLabel('Engangskode').waitFor();
    t.equal(await page.evaluate('document.activeElement?.id'), 'otp');
    await page.keyboard.type(code);
    await page.keyboard.press('Tab');
    t.equal(await page.evaluate('document.activeElement?.id'), 'password', 'Tab leads from the code to the password');
    await page.keyboard.type('demo-password-1');
    await page.keyboard.press('Enter');
    t.equal(await page.getByTestId('success').textContent(), 'Du er logget på som demo.');
    t.same(problems, [], 'no console error, page error or CSP violation');
    await c.close();
  });
}
