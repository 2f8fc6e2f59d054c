// Password-protected PSKC documents (RFC 6030 §6.2) over POST /v1/tokens with X-PSKC-Password:
// RFC 6030 figure 7, and files written by another implementation (Debian's python3-pskc); the
// PBKDF2 derivation runs off the event loop (src/security/pskc-password.ts); a wrong password
// imports nothing; the password never reaches the log.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOtp } from '@kodeviser/shared';
import { derivationId, parsePskc, PskcDerivationNeeded } from '@kodeviser/shared/pskc';
import { derivePskcKey } from '../src/security/pskc-password.js';
import { admin, newSerial, post, testApp } from './http-helpers.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const figure7 = readFileSync(join(fixtures, 'rfc6030-figure7-pbkdf2.xml'), 'utf8');
const figure7Note = JSON.parse(readFileSync(join(fixtures, 'rfc6030-figure7-pbkdf2.json'), 'utf8')) as {
  kdf: { password: string; derived_key_hex: string };
  expected_secret_hex: string;
  response_format: { length: number };
};
const pskc = { ...admin, 'content-type': 'application/pskc+xml' };
const withSerial = (doc: string, serial: string) =>
  doc.replace('<pskc:SerialNo>987654321</pskc:SerialNo>', `<pskc:SerialNo>${serial}</pskc:SerialNo>`);

t.test('RFC 6030 figure 7 imports with its password, and its codes validate', async (t) => {
  const { app, log } = await testApp(t, { captureLog: true });
  const serial = newSerial();
  const doc = withSerial(figure7, serial);
  const importWith = (headers: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/v1/tokens', headers: { ...pskc, ...headers }, payload: doc });

  const none = await importWith({});
  t.equal(none.statusCode, 400);
  t.match(none.json(), { error: 'bad-pskc', message: /password required/ });
  const wrong = await importWith({ 'x-pskc-password': 'qwertz' });
  t.equal(wrong.statusCode, 400, 'a wrong password');
  t.match(wrong.json(), { error: 'bad-pskc' });
  t.equal((await app.inject({ url: `/v1/tokens/${serial}`, headers: admin })).statusCode, 404, 'nothing imported');
  const both = await importWith({ 'x-pskc-password': 'qwerty', 'x-pskc-key': '00'.repeat(16) });
  t.equal(both.statusCode, 400);
  t.match(both.json().message, /not both/);

  const ok = await importWith({ 'x-pskc-password': figure7Note.kdf.password });
  t.equal(ok.statusCode, 201, ok.body);
  t.same(ok.json(), { imported: [serial] });
  const otp = createOtp({
    profile: 'hotp-sha1',
    key: Buffer.from(figure7Note.expected_secret_hex, 'hex'),
    digits: figure7Note.response_format.length,
  });
  for (const counter of [0, 1]) {
    t.match((await post(app, '/v1/validate', { serial, otp: otp.generate(counter) }, admin)).json(), {
      result: 'accept',
      movingFactor: counter,
    });
  }
  t.notMatch(log(), /qwert[yz]/, 'the password is never logged');
});

t.test('the derivation is node:crypto PBKDF2 on the pool, the same key as the figure and @noble/hashes', async (t) => {
  let needed: PskcDerivationNeeded | undefined;
  try {
    parsePskc(figure7, { password: 'qwerty', deferDerivation: true });
  } catch (e) {
    needed = e as PskcDerivationNeeded;
  }
  t.ok(needed instanceof PskcDerivationNeeded, 'deferred, not run');
  t.same(
    { ...needed!.derivation, salt: Buffer.from(needed!.derivation.salt).toString('hex') },
    {
      salt: '123eff3c4a72129c',
      iterations: 1000,
      keyBytes: 16,
      hash: 'sha1',
    },
  );
  const key = await derivePskcKey('qwerty', needed!.derivation);
  t.equal(Buffer.from(key).toString('hex'), figure7Note.kdf.derived_key_hex);
  const [viaDerived] = parsePskc(figure7, { derivedKeys: new Map([[derivationId(needed!.derivation), key]]) });
  const [viaNoble] = parsePskc(figure7, { password: 'qwerty' });
  t.same(viaDerived, viaNoble, 'the same keys either way');
});

t.test('a derivation of many iterations does not stop the event loop; the cap holds', async (t) => {
  const { app } = await testApp(t);
  // Figure 7 asking for 3 000 000 iterations: seconds of PBKDF2 (then a MAC mismatch, the key
  // being another than the figure's). Meanwhile the event loop keeps ticking.
  const slow = withSerial(figure7, newSerial()).replace(
    '<IterationCount>1000</IterationCount>',
    '<IterationCount>3000000</IterationCount>',
  );
  let longestGap = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 5);
  const began = performance.now();
  const res = await app.inject({ method: 'POST', url: '/v1/tokens', headers: { ...pskc, 'x-pskc-password': 'qwerty' }, payload: slow });
  const took = performance.now() - began;
  clearInterval(ticker);
  longestGap = Math.max(longestGap, performance.now() - last); // a loop blocked until now never ticked
  t.equal(res.statusCode, 400);
  t.match(res.json(), { error: 'bad-pskc' });
  t.ok(took > 200, `the derivation took ${took.toFixed(0)} ms`);
  t.ok(longestGap < 150, `the event loop's longest pause meanwhile: ${longestGap.toFixed(0)} ms`);

  const capped = figure7.replace('<IterationCount>1000</IterationCount>', '<IterationCount>10000001</IterationCount>');
  const refused = await app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: { ...pskc, 'x-pskc-password': 'qwerty' },
    payload: capped,
  });
  t.equal(refused.statusCode, 400);
  t.match(refused.json().message, /IterationCount 10000001 is above the limit of 10000000/);
});

// Another implementation's files: python-pskc (Debian's python3-pskc) writes them.
const python = (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import pskc'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

t.test(
  'files written by python3-pskc with PBKDF2 import; a wrong password imports nothing',
  { skip: python ? false : 'python3-pskc not installed (apt-get install python3-pskc): skipped' },
  async (t) => {
    const { app, clock } = await testApp(t);
    const hotpKey = '3132333435363738393031323334353637383930';
    const totpKey = '3132333435363738393031323334353637383930313233343536373839303132';
    const write = (hotpSerial: string, totpSerial: string, prf: string, algorithm: string, keyLength: number) =>
      execFileSync(
        '/usr/bin/python3',
        [
          '-c',
          `
import sys, io, pskc
p = pskc.PSKC()
p.add_key(id='h', serial='${hotpSerial}', secret=bytes.fromhex('${hotpKey}'), algorithm='urn:ietf:params:xml:ns:keyprov:pskc:hotp', response_length=6, counter=7)
p.add_key(id='t', serial='${totpSerial}', secret=bytes.fromhex('${totpKey}'), algorithm='urn:ietf:params:xml:ns:keyprov:pskc:totp', response_length=8, time_interval=30, algorithm_suite='HMAC-SHA256')
p.encryption.setup_pbkdf2('correct horse battery', iterations=20000, prf='${prf}', algorithm='${algorithm}', key_length=${keyLength})
out = io.BytesIO()
p.write(out)
sys.stdout.write(out.getvalue().decode())
`,
        ],
        { encoding: 'utf8' },
      );
    for (const [prf, algorithm, keyLength] of [
      ['hmac-sha256', 'aes256-cbc', 32],
      ['hmac-sha512', 'aes192-cbc', 24],
      ['hmac-sha1', 'aes128-cbc', 16],
    ] as const) {
      const hotpSerial = newSerial();
      const totpSerial = newSerial();
      const doc = write(hotpSerial, totpSerial, prf, algorithm, keyLength);
      t.match(doc, /DerivedKey/, `${prf}, ${algorithm}`);
      const wrong = await app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: { ...pskc, 'x-pskc-password': 'correct horse' },
        payload: doc,
      });
      t.equal(wrong.statusCode, 400, `${prf}, ${algorithm}: a wrong password is refused`);
      t.equal((await app.inject({ url: `/v1/tokens/${hotpSerial}`, headers: admin })).statusCode, 404, 'and imports nothing');
      const res = await app.inject({
        method: 'POST',
        url: '/v1/tokens',
        headers: { ...pskc, 'x-pskc-password': 'correct horse battery' },
        payload: doc,
      });
      t.equal(res.statusCode, 201, `${prf}, ${algorithm}: ${res.body}`);
      t.same(res.json().imported, [hotpSerial, totpSerial]);
      const hotp = createOtp({ profile: 'hotp-sha1', key: Buffer.from(hotpKey, 'hex') });
      t.match(
        (await post(app, '/v1/validate', { serial: hotpSerial, otp: hotp.generate(7) }, admin)).json(),
        { result: 'accept', movingFactor: 7 },
        'the hotp key at its counter',
      );
      const step = Math.floor(clock.now() / 30_000);
      const totp = createOtp({ profile: 'totp-sha256', key: Buffer.from(totpKey, 'hex'), digits: 8 });
      t.match(
        (await post(app, '/v1/validate', { serial: totpSerial, otp: totp.generate(step) }, admin)).json(),
        { result: 'accept', movingFactor: step },
        'the totp-sha256 key now',
      );
    }
  },
);
