/**
 * The device lab in a real browser: Debian's chromium driven by playwright-core (never a
 * downloaded browser), the page served by the real server (KODEVISER_LAB_DIR, with its CSP).
 * Presses in the page give exactly the codes `kodeviser press` gives for the same device file and
 * times; the keyboard alone works; a long press opens the menu; a device saves and loads back.
 * Any console error, page error or CSP violation fails the test. Without chromium the suite says
 * plainly that it skipped.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { makeSerial } from '@kodeviser/shared';
import { buildLab, LAB_OUT } from '../../scripts/build-lab.js';
import { freshSettings, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { cli as kodeviserAt } from '../helpers/kodeviser-cli.js';
import { haveChromium, launchChromium, watch } from './helpers.js';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const [HOTP_SERIAL, TOTP_SERIAL, ROUND_SERIAL, OFFERED_SERIAL] = ['100000000', '100000001', '100000002', '100000003'].map(makeSerial) as [
  string,
  string,
  string,
  string,
];

const cli = (args: string[]): Promise<string> => kodeviserAt(args, T0);

if (haveChromium(t)) {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-lab-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let server: ServerProcess;
  let browser: Browser;
  const settings = freshSettings();
  t.teardown(() => settings.cleanup());

  t.before(async () => {
    await buildLab({ quiet: true });
    server = await startServerProcess({
      ...settings,
      env: { KODEVISER_LAB_DIR: LAB_OUT, KODEVISER_LAB_DEVICE: join(dir, 'offered.json') },
    });
    browser = await launchChromium();
  });
  t.teardown(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** A page on the lab whose console errors, page errors and CSP violations are collected. */
  async function lab(t: Test): Promise<Page> {
    const context = await browser.newContext({ acceptDownloads: true });
    const problems: string[] = [];
    await watch(context, problems);
    const page = await context.newPage();
    await page.goto(`${server.url}/lab/`);
    // Checked before the test ends (a teardown is too late to assert in).
    pageProblems.set(t, [...(pageProblems.get(t) ?? []), problems]);
    t.teardown(() => context.close());
    return page;
  }
  const pageProblems = new Map<Test, string[][]>();
  const noProblems = (t: Test): void => {
    t.same((pageProblems.get(t) ?? []).flat(), [], 'no console error, page error or CSP violation');
  };
  const lcd = (page: Page) => page.getByTestId('lcd').textContent();
  async function goTo(page: Page, ms: number): Promise<void> {
    await page.getByTestId('set-time').fill(new Date(ms).toISOString());
    await page.getByTestId('set-time-go').click();
  }
  async function load(page: Page, file: string): Promise<void> {
    await page.getByLabel('Load device').setInputFiles(file);
    await page.getByTestId('lcd').waitFor();
  }

  for (const profile of ['hotp-sha1', 'totp-sha1'] as const) {
    t.test(`${profile}: 20 presses in the page show exactly what kodeviser press shows`, async (t) => {
      const file = join(dir, `${profile}.json`);
      await cli([
        'manufacture',
        '--profile',
        profile,
        '--serial',
        profile === 'hotp-sha1' ? HOTP_SERIAL : TOTP_SERIAL,
        '--at',
        new Date(T0).toISOString(),
        '--out',
        file,
      ]);
      const cliCopy = join(dir, `${profile}-cli.json`);
      copyFileSync(file, cliCopy);
      const page = await lab(t);
      await load(page, file);
      for (let i = 0; i < 20; i++) {
        const at = T0 + 60_000 + i * 47_000;
        const expected = JSON.parse(await cli(['press', cliCopy, '--at', new Date(at).toISOString(), '--json'])) as { lcd: string };
        await goTo(page, at);
        await page.getByRole('button', { name: 'Press' }).click();
        t.equal(await lcd(page), expected.lcd, `press ${i + 1} at ${new Date(at).toISOString()}`);
      }
      noProblems(t);
    });
  }

  t.test('the keyboard alone presses; a long press opens the information menu', async (t) => {
    const file = join(dir, 'keys.json');
    await cli(['manufacture', '--profile', 'totp-sha1', '--at', new Date(T0).toISOString(), '--out', file]);
    const page = await lab(t);
    await load(page, file);
    await goTo(page, T0 + 600_000);
    await page.getByRole('button', { name: 'Press' }).focus();
    await page.keyboard.press('Space');
    t.match(await lcd(page), /^ ?\d{6} *$/, 'Space shows a code');
    await goTo(page, T0 + 700_000);
    await page.getByRole('button', { name: 'Press' }).focus();
    await page.keyboard.press('Enter');
    t.match(await lcd(page), /^ ?\d{6} *$/, 'Enter too');
    // A long press: the key held on the Press button while the paused lab steps 6 s of device time on.
    await goTo(page, T0 + 1_200_000);
    await page.getByRole('button', { name: 'Press' }).focus();
    await page.keyboard.down('Space');
    for (let i = 0; i < 200 && (await page.getByTestId('screen').textContent()) !== 'menu'; i++) await page.getByTestId('step').click();
    t.equal(await page.getByTestId('screen').textContent(), 'menu', 'held long enough, the information menu');
    await page.keyboard.up('Space');
    const shown = (await lcd(page)) ?? '';
    t.notMatch(shown, /^ ?\d{6} *$/, `a long press shows the menu, not a code (${JSON.stringify(shown)})`);
    t.match(shown, /\S/, 'the menu shows something');
    noProblems(t);
  });

  t.test('time controls: +1 hour, +1 day, +1 year move the true clock; run until the display changes', async (t) => {
    const file = join(dir, 'time.json');
    await cli(['manufacture', '--profile', 'totp-sha1', '--at', new Date(T0).toISOString(), '--out', file]);
    const page = await lab(t);
    await load(page, file);
    await goTo(page, T0 + 60_000);
    const clock = async () => Date.parse((await page.getByTestId('true-clock').textContent()) ?? '');
    for (const [name, ms] of [
      ['+1 hour', 3_600_000],
      ['+1 day', 86_400_000],
      ['+1 year', 365 * 86_400_000],
    ] as const) {
      const before = await clock();
      await page.getByRole('button', { name, exact: true }).click();
      // paused: exactly that much; a lab left running would add a few ms of x1 on top
      // (a year: 365 or 366 days, as the lab counts it)
      const moved = (await clock()) - before;
      t.ok(moved >= ms && moved < ms + (name === '+1 year' ? 86_400_000 : 0) + 5_000, `${name}: ${moved} ms`);
    }
    await page.getByRole('button', { name: 'Press' }).click();
    const code = await lcd(page);
    await page.getByTestId('until-change').click();
    await page.waitForFunction(
      (shown) =>
        (globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }).document.querySelector(
          '[data-testid=lcd]',
        )?.textContent !== shown,
      code,
    );
    t.not(await lcd(page), code, 'the display changed (the code timed out)');
    noProblems(t);
  });

  t.test('save a device, load it back: the same device', async (t) => {
    const file = join(dir, 'round.json');
    await cli(['manufacture', '--profile', 'hotp-sha1', '--serial', ROUND_SERIAL, '--at', new Date(T0).toISOString(), '--out', file]);
    const page = await lab(t);
    await load(page, file);
    await goTo(page, T0 + 60_000);
    await page.getByRole('button', { name: 'Press' }).click();
    const first = await lcd(page);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Save device' }).click()]);
    const saved = join(dir, 'saved.json');
    await download.saveAs(saved);
    t.equal(download.suggestedFilename(), `${ROUND_SERIAL}.json`);
    const json = JSON.parse(readFileSync(saved, 'utf8')) as Record<string, unknown>;
    t.ok(json, 'a device file');
    // The CLI presses the saved file: the next code after the one the page showed.
    const next = JSON.parse(await cli(['press', saved, '--at', new Date(T0 + 120_000).toISOString(), '--json'])) as {
      lcd: string;
      code: string;
    };
    t.not(next.lcd, first, 'the page pressed it: the CLI continues from there');
    const page2 = await lab(t);
    await load(page2, saved);
    t.ok(((await page2.textContent('body')) ?? '').includes(ROUND_SERIAL.slice(2, 9)), 'the saved device loads back');
    noProblems(t);
  });

  t.test('the offered device loads by itself; a bad file is a message, not an error', async (t) => {
    const offered = join(dir, 'offered.json');
    await cli(['manufacture', '--profile', 'totp-sha1', '--serial', OFFERED_SERIAL, '--at', new Date(T0).toISOString(), '--out', offered]);
    const page = await lab(t);
    await page.evaluate('localStorage.clear()');
    await page.reload();
    // The page fetches the offered device after it loads: its serial shows once it has come.
    await page.getByTestId('serial').filter({ hasText: /\d/ }).waitFor();
    const body = (await page.textContent('body')) ?? '';
    t.ok(
      body.includes(OFFERED_SERIAL) ||
        body.includes(`${OFFERED_SERIAL.slice(0, 2)}-${OFFERED_SERIAL.slice(2, 9)}-${OFFERED_SERIAL.slice(9)}`),
      'the offered device (its serial shown)',
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"not": "a device"}');
    await page.getByLabel('Load device').setInputFiles(bad);
    const message = page.getByTestId('message');
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { document: { querySelector(s: string): { className: string } | null } }).document
          .querySelector('[data-testid=message]')
          ?.className.includes('error') === true,
    );
    t.match(await message.textContent(), /\S/, 'a visible message, marked as an error');
    noProblems(t);
  });
}
