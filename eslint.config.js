// ESLint flat config. Besides the usual TypeScript rules it carries two of the project's
// contracts: the dependency direction between packages (also enforced by tsc project
// references) and the determinism of the firmware core (no clock, randomness, timers or I/O).
import tseslint from 'typescript-eslint';

const nodeIo = [
  'fs',
  'fs/promises',
  'net',
  'http',
  'https',
  'http2',
  'dgram',
  'child_process',
  'worker_threads',
  'os',
  'process',
  'readline',
  'tls',
  'cluster',
  'timers',
  'timers/promises',
  'crypto',
];
const nodeIoPatterns = nodeIo.flatMap((m) => [m, `node:${m}`]);

const against = (names, why) => ({
  patterns: [{ group: names.map((n) => `@kodeviser/${n}`), message: why }],
});

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', '.tap/**', 'data/**', '**/*.js', '!eslint.config.js'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['shared/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          ...against(['firmware', 'emulator', 'server'], 'shared/ is the bottom of the graph: it imports no other kodeviser package.'),
          paths: nodeIoPatterns.map((name) => ({ name, message: 'shared/ is pure: no I/O.' })),
        },
      ],
    },
  },
  {
    files: ['firmware/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          ...against(['emulator', 'server'], 'The firmware depends on shared/ only.'),
          paths: nodeIoPatterns.map((name) => ({ name, message: 'The firmware core is pure: hardware is reached through the HAL.' })),
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'Date', message: 'The firmware has no wall clock: time comes with each event (`at`).' },
        { name: 'setTimeout', message: 'Timers are effects (timer-arm), carried out by the runtime.' },
        { name: 'setInterval', message: 'Timers are effects (timer-arm), carried out by the runtime.' },
        { name: 'setImmediate', message: 'Timers are effects (timer-arm), carried out by the runtime.' },
        { name: 'queueMicrotask', message: 'The firmware core is synchronous and pure.' },
        { name: 'process', message: 'The firmware core has no process, environment or I/O.' },
        { name: 'performance', message: 'The firmware has no wall clock.' },
        { name: 'fetch', message: 'The firmware core has no I/O.' },
        { name: 'crypto', message: "Randomness is not the firmware core's: keys come through personalisation." },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'The firmware is deterministic: no Math.random.' },
        { object: 'Date', property: 'now', message: 'The firmware has no wall clock.' },
      ],
    },
  },
  {
    files: ['server/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', against(['firmware', 'emulator'], 'The server shares only the crypto core (@kodeviser/shared).')],
    },
  },
  {
    files: ['emulator/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', against(['server'], 'The emulator talks to the server over HTTP only.')],
    },
  },
  {
    files: ['**/test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
