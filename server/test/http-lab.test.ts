// The device lab as static files at /lab/ (src/routes/lab.ts): its files with a CSP that allows
// only them, the offered device read fresh at each request, nothing outside the directory, and
// no lab at all unless configured. (The page itself runs in Chromium: test/browser/lab.test.ts.)
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { LAB_CSP } from '../src/routes/lab.js';
import { tempDir } from './helpers/db.js';
import { testApp } from './http-helpers.js';

function labDir(t: Parameters<typeof tempDir>[0]): { dir: string; device: string } {
  const root = tempDir(t);
  const dir = join(root, 'lab');
  mkdirSync(dir);
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>lab</title><script type="module" src="./lab.js"></script>');
  writeFileSync(join(dir, 'lab.js'), 'export {};');
  writeFileSync(join(root, 'secret.txt'), 'outside the lab');
  const device = join(root, 'device.json');
  writeFileSync(device, '{"format":"kodeviser-device","v":1}');
  return { dir, device };
}

t.test('the lab: its files, a strict CSP, the offered device as it is now', async (t) => {
  const { dir, device } = labDir(t);
  const { app } = await testApp(t, { lab: { dir, device } });
  const page = await app.inject({ url: '/lab/' });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.equal(page.headers['content-security-policy'], LAB_CSP);
  t.match(LAB_CSP, /script-src 'self'/);
  t.notMatch(LAB_CSP, /unsafe/, 'nothing inline, nothing evaluated');
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  const js = await app.inject({ url: '/lab/lab.js' });
  t.same([js.statusCode, js.body], [200, 'export {};']);
  t.match(js.headers['content-type'], /javascript/);
  t.equal((await app.inject({ url: '/lab' })).headers.location, '/lab/', '/lab goes to /lab/');

  const offered = await app.inject({ url: '/lab/device.json' });
  t.same([offered.statusCode, offered.json()], [200, { format: 'kodeviser-device', v: 1 }]);
  t.equal(offered.headers['cache-control'], 'no-store');
  writeFileSync(device, '{"format":"kodeviser-device","v":2}');
  t.same((await app.inject({ url: '/lab/device.json' })).json(), { format: 'kodeviser-device', v: 2 }, 'read afresh');

  for (const url of ['/lab/../secret.txt', '/lab/%2e%2e/secret.txt', '/lab/..%2fsecret.txt', '/lab/nope.js']) {
    const res = await app.inject({ url });
    t.not(res.statusCode, 200, url);
    t.notMatch(res.body, /outside the lab/, `${url}: nothing outside the directory`);
  }
  const docs = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, unknown> };
  t.notOk(
    Object.keys(docs.paths).some((p) => p.startsWith('/lab')),
    'not part of the API document',
  );
});

t.test('no lab unless configured; a lab directory without its page, or a device without a lab, is refused at start', async (t) => {
  const { app } = await testApp(t);
  t.equal((await app.inject({ url: '/lab/' })).statusCode, 404);
  const { dir, device } = labDir(t);
  const { app: noDevice } = await testApp(t, { lab: { dir, device: null } });
  t.equal(
    (await noDevice.inject({ url: '/lab/device.json' })).statusCode,
    204,
    'no device offered: no content (a 404 would be a console error)',
  );
  const data = tempDir(t);
  const env = { KODEVISER_DATA_DIR: data, KODEVISER_ADMIN_TOKEN: 'a'.repeat(43) };
  t.throws(() => loadConfig({ env: { ...env, KODEVISER_LAB_DIR: data } }), /KODEVISER_LAB_DIR .* has no index\.html/);
  t.throws(() => loadConfig({ env: { ...env, KODEVISER_LAB_DEVICE: device } }), /KODEVISER_LAB_DEVICE needs KODEVISER_LAB_DIR/);
  t.match(loadConfig({ env: { ...env, KODEVISER_LAB_DIR: dir, KODEVISER_LAB_DEVICE: device } }).config.lab, { dir, device });
});
