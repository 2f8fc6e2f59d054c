/**
 * File I/O of the CLI. A device file is the token's whole memory, so it is never left
 * half-written: the new text goes to a temporary file in the same directory (same file system,
 * so the rename is atomic, POSIX rename(2)), is fsynced, and only then renamed over the old
 * file; the directory is fsynced too so the rename itself survives a crash. On any failure the
 * temporary file is removed and the old file is untouched.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { runtimeError } from './errors.js';

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file or directory';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  if (err.code === 'EISDIR') return 'is a directory';
  return err.code ?? String(e);
}

export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw runtimeError(`cannot read ${path}: ${reason(e)}`);
  }
}

export function readJson(path: string): unknown {
  const text = readText(path);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw runtimeError(`${path} is not JSON`);
  }
}

/** Replaces `path` with `text` atomically (see the file comment). */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx', 0o600); // device files hold secret keys: owner-only
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw runtimeError(`cannot write ${path}: ${reason(e)}`);
  }
  syncDirectory(dirname(path));
}

/** Linux makes a rename durable only once its directory is fsynced. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
