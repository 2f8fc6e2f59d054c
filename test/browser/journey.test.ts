/**
 * The citizen's whole journey through the service's pages in a real browser (Debian's chromium,
 * playwright-core), with every code read off the device lab's page: order a device (pickup, paid)
 * → the service centre records an ID check and hands the order over → activate it on /activate
 * → log in on /login → approve a text. The server runs in this process on a clock the test moves
 * (40 s per code), and the lab is set to the same instant before each press, so no step waits.
 * Every page is checked for console errors, page errors, CSP violations and text contrast.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { formatSerial, makeSerial } from '@kodeviser/shared';
import { buildLab, LAB_OUT } from '../../scripts/build-lab.js';
import { admin, testApp, type TestApp } from '../../server/test/http-helpers.js';
import { deviceOnServer } from '../helpers/kodeviser-cli.js';
import { haveChromium, launchChromium, lowContrast, watch } from './helpers.js';

const SERIAL = makeSerial('500000001');
// A code is shown for about 32 s, and a press while it is shown turns the display off: the next
// code is pressed for once it has gone out (and in the next 30-second step).
const NEXT_CODE_MS = 40_000;

if (haveChromium(t)) {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-journey-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let browser: Browser;
  t.before(async () => {
    await buildLab({ quiet: true });
    browser = await launchChromium();
  });
  t.teardown(async () => browser?.close());

  t.test('order → ID check and hand-over at the centre → activate → log in → approve, codes from the lab', async (t) => {
    const server: TestApp = await testApp(t, { lab: { dir: LAB_OUT, device: null } });
    const { app, clock } = server;
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;

    // The factory: a device made a day ago, its seed imported from the PSKC file it wrote.
    const deviceFile = await deviceOnServer(app, admin.authorization, { dir, serial: SERIAL, nowMs: clock.now(), name: 'device' });
    const credential = await app.inject({
      method: 'POST',
      url: '/v1/credentials',
      headers: admin,
      payload: { role: 'operator', name: 'Aarhus counter 3' },
    });
    const operatorToken = credential.json().token as string;

    const context = await browser.newContext();
    const problems: string[] = [];
    await watch(context, problems);
    const contrast: string[] = [];
    const checked = async (page: Page): Promise<void> => {
      contrast.push(...(await lowContrast(page)).map((p) => `${new URL(page.url()).pathname}: ${p}`));
    };

    // The lab, with the device loaded; each press at the server's own instant.
    const lab = await context.newPage();
    await lab.goto(`${url}/lab/`);
    await lab.getByLabel('Load device').setInputFiles(deviceFile);
    await lab
      .getByTestId('serial')
      .filter({ hasText: formatSerial(SERIAL) })
      .waitFor();
    const pressAtServerTime = async (): Promise<string> => {
      await lab.getByTestId('set-time').fill(new Date(clock.now()).toISOString());
      await lab.getByTestId('set-time-go').click();
      await lab.getByRole('button', { name: 'Press' }).click();
      const lcd = lab.getByTestId('lcd');
      await lcd.filter({ hasText: /\d{6}/ }).waitFor();
      return /(\d{6})/.exec((await lcd.textContent()) ?? '')?.[1] ?? '';
    };

    // 1. The citizen orders a device for pickup, anonymously: 41.76 DKK, shown before confirming.
    const citizen = await context.newPage();
    await citizen.goto(`${url}/order`);
    await checked(citizen);
    await citizen.getByLabel('Pick it up at a citizen service centre').check();
    await citizen.getByLabel('Service centre', { exact: true }).fill('Aarhus');
    await citizen.getByRole('button', { name: 'See the price' }).click();
    t.equal(await citizen.getByTestId('price').textContent(), '41.76 DKK', 'the price before confirming');
    t.match(await citizen.getByTestId('dates').textContent(), /2026/, 'and the expected dates');
    await checked(citizen);
    await citizen.getByRole('button', { name: 'Confirm the order' }).click();
    const orderId = (await citizen.getByTestId('order-id').textContent()) ?? '';
    t.match(orderId, /^ord_[a-z2-7]{26}$/);
    await citizen.getByTestId('tracking-link').click();
    await citizen.getByTestId('status').filter({ hasText: 'Awaiting payment' }).waitFor();
    await checked(citizen);

    // The payment provider and the factory, over the admin API.
    t.equal(
      (await app.inject({ method: 'POST', url: `/v1/orders/${orderId}/payment`, headers: admin, payload: { reference: 'pay-1' } }))
        .statusCode,
      200,
    );
    t.equal(
      (await app.inject({ method: 'POST', url: `/v1/orders/${orderId}/fulfil`, headers: admin, payload: { serial: SERIAL } })).statusCode,
      200,
    );

    // 2. At the centre: the operator checks the passport (a proof) and hands the order over.
    const counter = await context.newPage();
    await counter.goto(`${url}/operator`);
    await checked(counter);
    await counter.getByLabel('Operator token').fill(operatorToken);
    await counter.getByRole('button', { name: 'Sign in' }).click();
    await counter.getByLabel('National ID (CPR number)').fill('0101901234');
    await counter.getByLabel('Document', { exact: true }).selectOption('passport');
    await counter.getByLabel('Issuing country').fill('DK');
    await counter.getByLabel('Document number').fill('P1234567');
    await counter.getByLabel('User ID (optional)').fill('journey');
    await counter.getByRole('button', { name: 'Record the ID check' }).click();
    const proofId = (await counter.getByTestId('proof-id').textContent()) ?? '';
    t.match(proofId, /^[A-Za-z0-9_-]{22}$/, 'the proof, shown once');
    await checked(counter);
    await counter.getByLabel('Order id').fill(orderId);
    // The order is anonymous: the document checked, not the proof the console filled in.
    await counter.getByLabel("Proof id of the order's user").fill('');
    await counter.getByLabel('Anonymous order: the document checked').selectOption('passport');
    await counter.getByRole('button', { name: 'Hand over' }).click();
    await counter.getByTestId('success').first().waitFor();
    t.equal((await app.inject({ url: `/v1/orders/${orderId}`, headers: admin })).json().status, 'collected', 'the order is collected');

    // 3. At home: activation with the proof, the serial from the back, a code from the lab.
    await citizen.goto(`${url}/activate`);
    await checked(citizen);
    await citizen.getByLabel('Proof of identity').fill(proofId);
    await citizen.getByLabel('Serial number').fill(formatSerial(SERIAL));
    await citizen.getByLabel('One-time code').fill(await pressAtServerTime());
    await citizen.getByLabel('New password', { exact: true }).fill('journey-password-1');
    await citizen.getByLabel('Repeat the new password').fill('journey-password-1');
    await citizen.getByRole('button', { name: 'Activate' }).click();
    t.match(await citizen.getByTestId('success').textContent(), 'Your user ID is journey.');
    await checked(citizen);

    // 4. A login with the next code.
    clock.advance(NEXT_CODE_MS);
    await citizen.goto(`${url}/login`);
    await citizen.getByLabel('User ID').fill('journey');
    await citizen.getByRole('button', { name: 'Continue' }).click();
    await citizen.getByLabel('One-time code').fill(await pressAtServerTime());
    await citizen.getByLabel('Password', { exact: true }).fill('journey-password-1');
    await citizen.getByRole('button', { name: 'Log in' }).click();
    t.equal(await citizen.getByTestId('success').textContent(), 'You are logged in as journey.');
    await checked(citizen);

    // 5. An approval: the text shown before the code is asked for, and on the receipt's page after.
    clock.advance(NEXT_CODE_MS);
    const text = 'Transfer 250,00 DKK to Ærø Færger';
    await citizen.goto(`${url}/login?action=APPROVE&text=${encodeURIComponent(text)}&user=journey`);
    await citizen.getByRole('button', { name: 'Continue' }).click();
    t.equal(await citizen.getByTestId('reference-text').textContent(), text, 'the text, before the code');
    await checked(citizen);
    await citizen.getByLabel('One-time code').fill(await pressAtServerTime());
    await citizen.getByLabel('Password', { exact: true }).fill('journey-password-1');
    await citizen.getByRole('button', { name: 'Approve' }).click();
    t.equal(await citizen.getByTestId('success').textContent(), 'You approved as journey:');
    t.equal(await citizen.getByTestId('reference-text').textContent(), text);

    // The same code again (the lab still shows it): refused, with the one message for every refusal.
    await citizen.goto(`${url}/login?user=journey`);
    await citizen.getByRole('button', { name: 'Continue' }).click();
    await citizen.getByLabel('One-time code').fill(/(\d{6})/.exec((await lab.getByTestId('lcd').textContent()) ?? '')?.[1] ?? '');
    await citizen.getByLabel('Password', { exact: true }).fill('journey-password-1');
    await citizen.getByRole('button', { name: 'Log in' }).click();
    t.match(await citizen.getByTestId('problem').textContent(), /^That did not work\./, 'a replayed code is refused');
    await checked(citizen);

    t.same(problems, [], 'no console error, page error or CSP violation');
    t.same(contrast, [], 'every text at 4.5:1 or better against its background');
    await context.close();
  });
}
