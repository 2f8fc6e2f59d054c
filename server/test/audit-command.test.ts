// `kodeviser-server audit …` (src/audit-command.ts) as an operator runs it: on the server's data
// directory, one line per outcome, exit codes 0 / 1 / 2, never a stack trace.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { auditCommand } from '../src/audit-command.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { tempDir } from './helpers/db.js';

const T0 = Date.UTC(2026, 0, 1);

async function run(argv: string[], env: NodeJS.ProcessEnv, now = T0 + 86_400_000 * 30) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await auditCommand(argv, { env, out: (l) => out.push(l), err: (l) => err.push(l), now: () => now });
  return { code, out, err };
}

/** A data directory with a master key and a database holding `n` audit rows, a day apart. */
async function dataDir(t: Parameters<typeof tempDir>[0], n: number): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'master.key'), `${'ab'.repeat(32)}\n`, { mode: 0o600 });
  const store = openSqliteStore(join(dir, 'kodeviser.db'));
  for (let i = 0; i < n; i++) {
    const entry = { at: T0 + i * 86_400_000, type: 'reject' as const, reason: `day ${i}`, ip: '203.0.113.9' };
    await store.attempt({}, () => ({ result: null, writes: [{ kind: 'audit', entry }] }));
  }
  await store.close();
  return { dir, env: { KODEVISER_DATA_DIR: dir, KODEVISER_ADMIN_TOKEN: 'a'.repeat(43) } };
}

t.test('verify, checkpoint, archive, verify the archive, with the key an auditor is given', async (t) => {
  const { dir, env } = await dataDir(t, 20);
  const v = await run(['verify'], env);
  t.equal(v.code, 0, v.err.join());
  t.match(v.out.at(-1), /^the audit log verifies: 20 rows \(ids 1-20\) in 1 lane, from the first row; no checkpoint yet, 20 rows after it/);

  const c = await run(['checkpoint'], env);
  t.equal(c.code, 0);
  t.match(c.out[0], /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, 'the checkpoint, a compact JWS');
  t.match((await run(['verify'], env)).out.at(-1), /newest checkpoint #1, 0 rows after it/);

  const file = join(dir, 'archive.jsonl');
  const a = await run(['archive', '--to', file, '--older-than', '20'], env);
  t.equal(a.code, 0, a.err.join());
  t.match(
    a.out.at(-1),
    /^archived 10 rows \(ids 1-10, before 2026-01-11T00:00:00\.000Z\) to .*archive\.jsonl; 10 pruned from the database$/,
  );
  t.match(
    (await run(['verify'], env)).out.at(-1),
    /11 rows \(ids 11-21\) in 2 lanes, from archive checkpoint #2 \(rows up to 10 archived\); newest checkpoint #1, 1 rows after it/,
  );

  const k = await run(['key'], env);
  const jwk = JSON.parse(k.out[0]!) as Record<string, string>;
  t.match(jwk, { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', kid: /^[\w-]{43}$/ });
  t.notOk('d' in jwk, 'the public key only');
  const keyFile = join(dir, 'auditor.jwk');
  writeFileSync(keyFile, k.out[0]!);
  const alone = await run(['verify', '--archive', file, '--public-key', keyFile], {});
  t.equal(alone.code, 0, 'an auditor needs the file and the public key, nothing else');
  t.match(alone.out[0], /^the archive .*archive\.jsonl verifies: 10 rows \(ids 1-10\), signed by key /);
  const otherKey = await run(['key'], { ...env, KODEVISER_MASTER_KEY: 'cd'.repeat(32) });
  writeFileSync(keyFile, otherKey.out[0]!);
  const wrongKey = await run(['verify', '--archive', file, '--public-key', keyFile], {});
  t.equal(wrongKey.code, 1, "another key's checkpoints do not verify");
  t.match(wrongKey.err[0], /does NOT verify/);
});

t.test('a tampered log: verify exits 1 naming the row; checkpoint and archive refuse', async (t) => {
  const { dir, env } = await dataDir(t, 5);
  const db = new Database(join(dir, 'kodeviser.db'));
  db.exec(`DROP TRIGGER audit_is_append_only_update; UPDATE audit SET reason = 'day 9' WHERE id = 3;`);
  db.close();
  const v = await run(['verify'], env);
  t.equal(v.code, 1);
  t.same(v.out, ['row 3 (lane 1): its hash does not follow from the row before it in its lane']);
  t.same(v.err, ['the audit log does NOT verify: 1 rows out of chain, 0 checkpoints failing']);
  t.equal((await run(['checkpoint'], env)).code, 1);
  const a = await run(['archive', '--to', join(dir, 'a.jsonl'), '--older-than', '0'], env);
  t.equal(a.code, 1);
  t.notOk(existsSync(join(dir, 'a.jsonl')), 'nothing written');
});

t.test('usage errors exit 2 with the usage; operational ones exit 1 with one line', async (t) => {
  const { dir, env } = await dataDir(t, 1);
  for (const argv of [
    [],
    ['prune'],
    ['verify', 'checkpoint'],
    ['archive', '--older-than', '3'],
    ['archive', '--to', 'x'],
    ['archive', '--to', 'x', '--before', 'last tuesday'],
    ['archive', '--to', 'x', '--older-than', '-3'],
    ['archive', '--to', 'x', '--before', '2026-01-01', '--older-than', '3'],
    ['checkpoint', '--to', 'x'],
    ['checkpoint', '--archive', 'x'],
    ['verify', '--public-key', 'k'],
    ['verify', '--frobnicate'],
  ]) {
    const r = await run(argv, env);
    t.equal(r.code, 2, argv.join(' '));
    t.match(r.err[0], /^kodeviser-server audit: [^\n]+\n(?:[^\n]*\n)*Usage: kodeviser-server audit COMMAND/);
  }
  const exists = await run(['archive', '--to', join(dir, 'kodeviser.db'), '--older-than', '0'], env);
  t.same(
    [exists.code, exists.err],
    [1, [`kodeviser-server audit: ${join(dir, 'kodeviser.db')} exists: give a new file name (an archive never overwrites)`]],
  );
  const missing = await run(['verify', '--archive', join(dir, 'nope.jsonl')], env);
  t.same([missing.code, missing.err.length], [1, 1]);
  const notArchive = await run(['verify', '--archive', join(dir, 'master.key')], env);
  t.equal(notArchive.code, 1);
  t.match(notArchive.out[0], /not a kodeviser audit archive/);

  // No master key: refused before one is generated (it would sign with a stranger's key).
  const empty = tempDir(t);
  const r = await run(['verify'], { KODEVISER_DATA_DIR: empty });
  t.equal(r.code, 1);
  t.match(r.err[0], /^kodeviser-server audit: no master key in /);
  t.notOk(existsSync(join(empty, 'master.key')), 'none generated');

  const help = await run(['--help'], env);
  t.equal(help.code, 0);
  t.match(help.out[0], /^Usage: kodeviser-server audit COMMAND/);
});

t.test('main.js dispatches `audit`', async (t) => {
  const { env } = await dataDir(t, 2);
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=kodeviser-src', join(root, 'server', 'src', 'main.ts'), 'audit', 'verify'],
      { env: { ...process.env, ...env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.on('exit', (code) => resolve({ code, text }));
  });
  t.equal(out.code, 0);
  t.match(out.text, /^the audit log verifies: 2 rows/);
});
