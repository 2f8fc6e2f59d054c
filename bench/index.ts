/**
 * `npm run bench [crypto] [emulator] [server] [lab]`: the benchmarks, never timed tests. Each suite
 * measures its baseline (node:crypto, otpauth/otplib, a Fastify hello-world) in the same run and
 * prints ratios, because these machines are noisy and absolute figures do not travel.
 */
const suites: Record<string, () => Promise<{ main: (args: string[]) => Promise<void> | void }>> = {
  crypto: () => import('./crypto.js'),
  emulator: () => import('./emulator.js'),
  server: () => import('./server.js'),
  lab: () => import('./lab.js'),
};

const args = process.argv.slice(2);
const chosen = args.filter((a) => !a.startsWith('-'));
const names = chosen.length ? chosen : Object.keys(suites);
for (const name of names) {
  const load = suites[name];
  if (!load) {
    console.error(`bench: unknown suite "${name}" (known: ${Object.keys(suites).join(', ')})`);
    process.exit(2);
  }
  console.log(`\n## ${name}\n`);
  const suite = await load();
  await suite.main(args.filter((a) => a.startsWith('-')));
}
