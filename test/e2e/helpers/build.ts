/**
 * The end-to-end suite runs what users run: the compiled server (server/dist/main.js, the entry
 * behind `npm start`) and the compiled `kodeviser` bin (emulator/dist). Those come from `tsc -b`
 * (run by `npm ci` as `prepare`, or by `npm run build`); a developer who edited a source file and
 * ran the tests straight away would otherwise test yesterday's build. So before a suite starts,
 * the build is refreshed when any source of the four packages is newer than its build info.
 * tap runs the e2e files in parallel processes, so the build runs under flock(1) on one lock file:
 * the second file waits, then finds the build fresh.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SERVER_MAIN = join(ROOT, 'server', 'dist', 'main.js');
export const KODEVISER_BIN = join(ROOT, 'emulator', 'bin', 'kodeviser.js');

const PACKAGES = ['shared', 'firmware', 'emulator', 'server'] as const;
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const LOCK = join(tmpdir(), 'kodeviser-e2e-build.lock');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** The packages whose sources are newer than their last build (or that were never built). */
export function stalePackages(): string[] {
  return PACKAGES.filter((p) => {
    const info = join(ROOT, p, 'dist', '.tsbuildinfo');
    return !existsSync(info) || newestMtime(join(ROOT, p, 'src')) > statSync(info).mtimeMs;
  });
}

/** Runs `tsc -b server emulator` when a source changed since the last build; throws with tsc's output when it fails. */
export function ensureBuilt(): void {
  if (stalePackages().length === 0 && existsSync(SERVER_MAIN)) return;
  const flock = ['/usr/bin/flock', '/bin/flock'].find((p) => existsSync(p));
  const tsc = [TSC, '-b', 'server', 'emulator'];
  const run = flock
    ? spawnSync(flock, [LOCK, process.execPath, ...tsc], { cwd: ROOT, encoding: 'utf8' })
    : spawnSync(process.execPath, tsc, { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`tsc -b server emulator failed:\n${run.stdout}${run.stderr}`);
}
