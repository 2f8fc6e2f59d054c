#!/usr/bin/env node
// The installed `kodeviser` command: runs the compiled CLI (emulator/dist, emitted by `tsc -b`,
// which the root `prepare` script runs on `npm ci`), never the TypeScript sources, so that a
// press costs one plain Node start-up.
import { main } from '../dist/cli/main.js';
import { processIo } from '../dist/cli/io.js';

process.exitCode = await main(process.argv.slice(2), processIo());
