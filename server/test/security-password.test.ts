// Password hashing: scrypt with stored parameters and per-user salt, constant-time verification.
import t from 'tap';
import { scryptSync } from 'node:crypto';
import { createPasswordHasher, DEFAULT_SCRYPT_PARAMS } from '../src/security/password.js';

t.test('the default hash is scrypt N=2^15 r=8 p=1 with its parameters and salt stored', async (t) => {
  const hasher = createPasswordHasher();
  t.same(hasher.params, { N: 32768, r: 8, p: 1 });
  t.same(DEFAULT_SCRYPT_PARAMS, { N: 32768, r: 8, p: 1 });
  const stored = await hasher.hash('correct horse');
  const m = /^scrypt\$32768\$8\$1\$([A-Za-z0-9_-]{22})\$([A-Za-z0-9_-]{43})$/.exec(stored);
  t.ok(m, `format scrypt$N$r$p$salt$hash: ${stored.replace(/\$[^$]+$/, '$…')}`);
  // The stored hash is plain RFC 7914 scrypt of the NFC password, so it can be checked elsewhere.
  const [, salt, hash] = m as RegExpExecArray;
  const again = scryptSync('correct horse', Buffer.from(salt as string, 'base64url'), 32, {
    N: 32768,
    r: 8,
    p: 1,
    maxmem: 64 * 1024 * 1024,
  });
  t.equal(again.toString('base64url'), hash);
  t.equal(await hasher.verify('correct horse', stored), true);
  t.equal(await hasher.verify('correct horsf', stored), false);
});

t.test('each hash has its own salt; verification follows the stored parameters', async (t) => {
  const cheap = createPasswordHasher({ N: 16, r: 1, p: 1 });
  const a = await cheap.hash('pw');
  const b = await cheap.hash('pw');
  t.not(a, b, 'same password, different hashes');
  t.equal(await cheap.verify('pw', b), true);
  const other = createPasswordHasher({ N: 32, r: 2, p: 1 });
  t.equal(await other.verify('pw', a), true, 'a hasher with other parameters still verifies an old hash');
  t.equal(await cheap.verify('\u0065\u0301', await cheap.hash('\u00e9')), true, 'passwords compare after NFC');
});

t.test('malformed stored hashes and bad input are a plain false', async (t) => {
  const cheap = createPasswordHasher({ N: 16, r: 1, p: 1 });
  const good = await cheap.hash('pw');
  for (const bad of [
    '',
    'bcrypt$x',
    good.replace('scrypt$16', 'scrypt$15'),
    good.replace('scrypt$16$1$1', 'scrypt$16$0$1'),
    good.slice(0, -4),
  ]) {
    t.equal(await cheap.verify('pw', bad), false, JSON.stringify(bad.slice(0, 20)));
  }
  t.equal(await cheap.verify(42 as unknown as string, good), false);
  t.equal(await cheap.verifyNothing('pw'), false);
  await t.rejects(cheap.hash(''), { code: 'ERR_ARGUMENT', message: /password/ });
  t.throws(() => createPasswordHasher({ N: 100, r: 8, p: 1 }), { code: 'ERR_ARGUMENT', message: /N/ });
  t.throws(() => createPasswordHasher({ N: 1024, r: 0, p: 1 }), { code: 'ERR_ARGUMENT', message: /r and p/ });
});
