// Boundaries from STYLE.md are enforced here, not by convention: the UI cannot reach into the
// server, the SDK stays framework-free, and the pure core imports no adapters or I/O.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restrict = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['node_modules/**', '.next/**', '.cache/**', 'next-env.d.ts', 'test-results/**', 'playwright-report/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  { files: ['components/**', 'app/**', 'lib/**'], rules: restrict([{ group: ['**/server/**', 'ws', 'pino', 'prom-client'], message: 'UI code may not import server code; share types through protocol/.' }]) },
  { files: ['protocol/**'], rules: restrict([{ group: ['**/server/**', '**/components/**', '**/app/**', '**/lib/**', 'react', 'next', 'next/*'], message: 'protocol/ is shared by server and UI and imports neither.' }]) },
  { files: ['server/topology/**'], rules: restrict([{ group: ['**/sources/**', '**/realtime/**', '**/http/**', 'node:*', 'ws', 'next', 'next/*'], message: 'The topology store is pure: no adapters, no I/O.' }]) },
  { files: ['clients/**'], rules: restrict([{ group: ['**/server/**', '**/sdk/**', '**/app/**', '**/components/**', '**/lib/**', 'next', 'next/*', 'react'], message: 'clients/ is shared by sdk/ and server/ and imports neither.' }]) },
  { files: ['registry/**'], rules: restrict([{ group: ['../*', '**/server/**', '**/protocol/**', '**/clients/**', '**/sdk/**', '**/lib/**', '**/app/**', '**/components/**', '**/demo/**', '@/*', 'next', 'next/*', 'react'], message: 'registry/ is its own package (the embedded Consul-compatible registry): it imports nothing of the rest of Switchboard.' }]) },
  { files: ['sdk/**'], rules: restrict([{ group: ['**/server/**', '**/app/**', '**/components/**', 'next', 'next/*', 'react'], message: 'The SDK is usable from any Node service: no server, Next or React imports.' }]) },
  // Tests, scripts and benchmarks talk to the terminal.
  { files: ['bench/**', 'scripts/**', 'e2e/**', 'test/**', '**/*.test.ts'], rules: { 'no-console': 'off' } },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['scripts/**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
);
