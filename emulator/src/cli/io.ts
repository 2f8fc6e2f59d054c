/**
 * What a command may touch of the outside world, passed in rather than reached for, so the
 * tests run commands in-process (fast, and measured by coverage) with a fake clock and captured
 * output, and the bin wires the real process in.
 */
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Lines of standard input, read lazily (the stepper's commands). */
  lines(): AsyncIterable<string>;
  /** Whether stdin is a terminal (the stepper prompts only then). */
  interactive: boolean;
  /** The host clock, Unix ms: the true time of a press given neither --at nor --advance. */
  nowMs(): number;
  /** Resolves a path from the command line against the working directory. */
  path(p: string): string;
}

export function processIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    lines: () => createInterface({ input: process.stdin, crlfDelay: Infinity }),
    interactive: process.stdin.isTTY === true,
    nowMs: () => Date.now(),
    path: (p) => resolve(p),
  };
}
