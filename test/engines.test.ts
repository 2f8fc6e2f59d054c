/**
 * The oldest Node.js the README promises (the root package.json's `engines`) must run every
 * package the lock file installs. A package that declares a newer Node is not a warning to live
 * with: cookie 2 and content-disposition 3 (ESM only, Node 22 by their `engines`) are `require`d by
 * light-my-request and @fastify/static, which fails on Node 20 before 20.19 — so the root
 * `overrides` keep their CommonJS majors, which have the same functions.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const json = (path: string) => JSON.parse(readFileSync(join(root, path), 'utf8')) as Record<string, unknown>;
const nodeRange = (p: Record<string, unknown>) => (p.engines as { node?: string } | undefined)?.node;

const promised = nodeRange(json('package.json'));
const oldest = promised === undefined ? null : semver.minVersion(promised);

t.test('the root package names the oldest Node.js it runs on, and this one is among them', async (t) => {
  t.ok(oldest, 'engines.node is a range with a lowest version');
  t.ok(semver.satisfies(process.version, promised ?? ''), `${process.version} satisfies ${promised}`);
  for (const workspace of ['shared', 'firmware', 'emulator', 'server'])
    t.equal(nodeRange(json(`${workspace}/package.json`)), promised, `${workspace} promises the same`);
});

t.test('every locked package runs on the oldest Node.js promised', async (t) => {
  const packages = json('package-lock.json').packages as Record<string, Record<string, unknown>>;
  const refusing = Object.entries(packages)
    .filter(([path]) => path.startsWith('node_modules/') || path.includes('/node_modules/'))
    .map(([path, p]) => ({ path, version: p.version, node: nodeRange(p) }))
    .filter((p) => p.node !== undefined && oldest !== null && !semver.satisfies(oldest, p.node));
  t.same(refusing, [], `none needs more than Node.js ${oldest?.version}`);
  t.ok(Object.keys(packages).length > 100, 'the lock file was read');
});
