/**
 * The SQLite store on a disk that fills up (issue 18, finding 3), for real: a small tmpfs of the
 * test's own, filled by a file until ENOSPC. A write that finds no room is a 503 `unavailable`,
 * readiness says not ready, and once the file is gone both recover, the checkpointer too (a
 * checkpoint that needs the database file to grow fails alone, and the next one goes on).
 * Mounting a tmpfs needs root (CAP_SYS_ADMIN): elsewhere these tests say so and skip.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startCheckpointer } from '../src/store/sqlite-checkpointer.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { admin, asService, device, importDevices, post, testApp } from './http-helpers.js';

/** A tmpfs of `size` mounted on a new directory, or null where none can be mounted; and what unmounts it. */
function mountSmall(size: string): { dir: string; unmount: () => void } | null {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-full-'));
  const unmount = () => {
    // Lazily: whatever still has a file open there lets go in its own time.
    spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' }).status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return { dir, unmount };
}

/** A tmpfs of `size` for this test, unmounted at its end. */
function smallFileSystem(t: Test, size: string): string {
  const mounted = mountSmall(size);
  if (mounted === null) throw new Error('the tmpfs could be mounted a moment ago and not now');
  t.teardown(mounted.unmount);
  return mounted.dir;
}

const probe = mountSmall('64k');
probe?.unmount();
const skip = probe === null ? 'cannot mount a tmpfs here (needs root): the full disk is not tried' : false;

/** Writes `path` until the file system has no room left; returns what removes it. */
function fillUp(path: string): () => void {
  const fd = openSync(path, 'w');
  try {
    for (const chunk of [65_536, 1024, 1]) {
      try {
        for (;;) writeSync(fd, Buffer.alloc(chunk));
      } catch (e) {
        if ((e as { code?: string }).code !== 'ENOSPC') throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
  return () => rmSync(path);
}

t.test('a full disk: a write is 503 unavailable, readiness says so; with room again both recover', { skip }, async (t) => {
  const dir = smallFileSystem(t, '4m');
  const store = openSqliteStore(join(dir, 'kodeviser.db'), { busyTimeoutMs: 50, checkpointIntervalMs: 50 });
  const { app } = await testApp(t, { store });
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'ready');

  const empty = fillUp(join(dir, 'filler'));
  t.same((await app.inject({ url: '/readyz' })).json(), { status: 'unavailable' }, 'the disk full: not ready');
  let refused;
  for (let i = 0; i < 100 && refused === undefined; i++) {
    const devices = Array.from({ length: 100 }, () => device());
    const res = await post(
      app,
      '/v1/tokens',
      { tokens: devices.map((d) => ({ serial: d.serial, profile: d.profile, keyHex: d.keyHex })) },
      admin,
    );
    if (res.statusCode !== 201) refused = res;
  }
  t.ok(refused, 'an import finds no room');
  t.equal(refused?.statusCode, 503);
  t.same(refused?.json(), { error: 'unavailable', message: 'the disk of the database is full' });
  t.equal(refused?.headers['retry-after'], '1');

  empty();
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'room again: ready');
  const d = device();
  await importDevices(app, d);
  const res = await post(app, '/v1/validate', { serial: d.serial, otp: d.press() }, asService);
  t.same([res.statusCode, res.json().result], [200, 'accept'], 'writes go through again');
  await app.close();
});

t.test(
  'the checkpointer: a checkpoint that finds the disk full fails alone; with room, the next one copies the log',
  { skip },
  async (t) => {
    const dir = smallFileSystem(t, '3m');
    const path = join(dir, 'k.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (x BLOB)');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    for (let i = 0; i < 8; i++) insert.run(Buffer.alloc(100_000)); // in the log only: the database file must grow to take it
    const checkpointer = startCheckpointer(path, { intervalMs: 60_000 });
    t.teardown(async () => {
      await checkpointer.close();
      db.close();
    });
    const empty = fillUp(join(dir, 'filler'));
    await t.rejects(checkpointer.checkpoint(), { code: 'SQLITE_FULL' }, 'no room to copy the log into the database file');
    empty();
    const report = await checkpointer.checkpoint();
    t.ok(report.log > 0 && report.checkpointed === report.log, 'the worker goes on: the whole log copied');
  },
);
