/**
 * Loads the published vectors copied into shared/test/vectors (from the project's ../shared,
 * which tests must never read at run time). Each file keeps its source fields.
 */
import { readFileSync } from 'node:fs';

export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8')) as T;
}

export function readVectorText(name: string): string {
  return readFileSync(new URL(`./vectors/${name}`, import.meta.url), 'utf8');
}
