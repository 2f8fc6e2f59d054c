/**
 * Runs the CLI in-process (fast, and measured by coverage) with captured output, piped stdin
 * lines and a fixed host clock; and spawns the real bin for the tests that must see a process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';
import type { CliIo } from '../src/cli/io.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'emulator', 'bin', 'kodeviser.js');

/** 2026-01-01T00:00:00Z, the host clock of in-process runs unless a test says otherwise. */
export const HOST_NOW_MS = Date.UTC(2026, 0, 1);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(
  argv: string[],
  opts: { stdin?: string; nowMs?: number; interactive?: boolean; cwd?: string } = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    async *lines() {
      for (const line of (opts.stdin ?? '').split('\n')) yield line;
    },
    interactive: opts.interactive ?? false,
    nowMs: () => opts.nowMs ?? HOST_NOW_MS,
    path: (p) => resolve(opts.cwd ?? ROOT, p),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

export function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Brings emulator/dist up to date (the bin runs the compiled CLI); tsc -b skips what is current. */
export function ensureBuilt(): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'emulator'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`tsc -b emulator failed:\n${r.stdout}${r.stderr}`);
}

/** Spawns the real bin (compiled CLI). */
export function bin(args: string[], opts: { input?: string; cwd?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, input: opts.input ?? '', encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
