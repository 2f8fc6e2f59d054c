/**
 * The dependency direction (shared ← firmware ← emulator; shared ← server) is a contract the
 * compiler must enforce, not a convention. These tests copy the real tsconfig and package.json
 * files into a scratch workspace, plant an import against the direction, and check that the real
 * `tsc -b` refuses it (and accepts the allowed direction), and that ESLint says the same.
 *
 * How tsc enforces it: tsconfig.base.json maps every `@kodeviser/*` import to that package's
 * sources (`paths`), so an import is never an "external library" from node_modules; a composite
 * project may only see its own files and the outputs of the projects it references, so an import
 * of an unreferenced package fails with TS6307 (file not in the project).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const packages = ['shared', 'firmware', 'emulator', 'server'] as const;
type Pkg = (typeof packages)[number];
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/** A scratch copy of the workspace: real configs, one tiny source file per package. */
function scratchWorkspace(sources: Partial<Record<Pkg, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kodeviser-arch-'));
  cpSync(join(root, 'tsconfig.base.json'), join(dir, 'tsconfig.base.json'));
  mkdirSync(join(dir, 'node_modules', '@kodeviser'), { recursive: true });
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(join(root, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'));
  for (const p of packages) {
    mkdirSync(join(dir, p, 'src'), { recursive: true });
    cpSync(join(root, p, 'tsconfig.json'), join(dir, p, 'tsconfig.json'));
    const pkg = JSON.parse(readFileSync(join(root, p, 'package.json'), 'utf8')) as Record<string, unknown>;
    delete pkg.bin;
    writeFileSync(join(dir, p, 'package.json'), JSON.stringify(pkg));
    writeFileSync(join(dir, p, 'src', 'index.ts'), sources[p] ?? `export const ${p} = '${p}';\n`);
    symlinkSync(join(dir, p), join(dir, 'node_modules', '@kodeviser', p));
  }
  return dir;
}

function build(dir: string, pkg: Pkg) {
  const r = spawnSync(process.execPath, [tsc, '-b', join(dir, pkg)], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const forbidden: Array<[Pkg, Pkg]> = [
  ['firmware', 'emulator'],
  ['firmware', 'server'],
  ['server', 'firmware'],
  ['server', 'emulator'],
  ['shared', 'firmware'],
];

t.test('tsc -b refuses an import against the dependency direction', async (t) => {
  for (const [from, to] of forbidden) {
    const dir = scratchWorkspace({ [from]: `import { ${to} } from '@kodeviser/${to}';\nexport const x = ${to};\n` });
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const r = build(dir, from);
    t.not(r.status, 0, `${from} importing ${to} fails to build`);
    // TS6307: the file is not listed in the project nor in a referenced project.
    t.match(r.out, /TS6307|TS6059|TS2307/, `${from} → ${to}: the compiler names the stray file`);
  }
});

t.test('tsc -b accepts the allowed direction', async (t) => {
  const dir = scratchWorkspace({
    firmware: `import { shared } from '@kodeviser/shared';\nexport const firmware = shared;\n`,
    emulator: `import { firmware } from '@kodeviser/firmware';\nimport { shared } from '@kodeviser/shared';\nexport const emulator = firmware + shared;\n`,
    server: `import { shared } from '@kodeviser/shared';\nexport const server = shared;\n`,
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const p of ['emulator', 'server'] as const) {
    const r = build(dir, p);
    t.equal(r.status, 0, `${p} builds: ${r.out}`);
  }
});

t.test("ESLint refuses the same imports and the firmware's clock, randomness and I/O", async (t) => {
  const eslint = new ESLint({ cwd: root });
  const lint = async (file: string, code: string) => {
    const [result] = await eslint.lintText(code, { filePath: join(root, file) });
    return (result?.messages ?? []).map((m) => m.ruleId);
  };
  for (const [from, to] of forbidden) {
    t.ok(
      (await lint(`${from}/src/x.ts`, `import { y } from '@kodeviser/${to}';\nexport const x = y;\n`)).includes('no-restricted-imports'),
      `${from} → ${to}`,
    );
  }
  t.same(
    await lint('emulator/src/x.ts', `import { y } from '@kodeviser/firmware';\nexport const x = y;\n`),
    [],
    'emulator → firmware is allowed',
  );
  const firmwareSins = {
    'Date.now()': 'export const x = Date.now();\n',
    'new Date()': 'export const x = new Date();\n',
    'Math.random()': 'export const x = Math.random();\n',
    setTimeout: 'setTimeout(() => 1, 1);\n',
    'node:fs': "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n",
  };
  for (const [what, code] of Object.entries(firmwareSins)) {
    t.ok((await lint('firmware/src/x.ts', code)).length > 0, `firmware may not use ${what}`);
  }
});
