/** Real SQLite files in a per-test temporary directory, removed when the test ends. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TapLike {
  teardown(fn: () => void | Promise<void>): void;
}

export function tempDir(t: TapLike): string {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-server-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function tempDbPath(t: TapLike, name = 'tokens.db'): string {
  return join(tempDir(t), name);
}
