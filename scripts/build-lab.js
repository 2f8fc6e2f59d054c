#!/usr/bin/env node
/**
 * Builds the device lab (emulator/src/lab, issue 20) for the browser: esbuild bundles the page's
 * entry with the firmware and the emulator it runs into one ES module, minified, beside the page's
 * HTML and CSS, in emulator/dist/lab/. The server serves that directory at /lab/ as static files
 * (KODEVISER_LAB_DIR): an asset, not an import. Prints the bundle's size, raw and gzipped.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const LAB_OUT = join(root, 'emulator', 'dist', 'lab');

export async function buildLab({ quiet = false } = {}) {
  mkdirSync(LAB_OUT, { recursive: true });
  await build({
    entryPoints: [join(root, 'emulator', 'src', 'lab', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    // The workspaces' sources, as the tests and the CLI's tsx runs read them.
    conditions: ['kodeviser-src'],
    minify: true,
    sourcemap: true,
    outfile: join(LAB_OUT, 'lab.js'),
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'lab.css']) copyFileSync(join(root, 'emulator', 'lab', f), join(LAB_OUT, f));
  const js = readFileSync(join(LAB_OUT, 'lab.js'));
  const size = { bytes: js.length, gzipped: gzipSync(js, { level: 9 }).length };
  if (!quiet)
    console.log(`lab built in ${LAB_OUT}: lab.js ${(size.bytes / 1024).toFixed(1)} kB, ${(size.gzipped / 1024).toFixed(1)} kB gzipped`);
  return size;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildLab();
