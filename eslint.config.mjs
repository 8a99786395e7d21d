// One lint tool for the project: ESLint with typescript-eslint's type-checked rules (typed lint is why
// ESLint is preferred over Biome here). Formatting-relevant rules are kept minimal and enforced.
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// The architecture, as lint enforces it (docs/decisions/004-one-package-lint-enforced-boundaries.md):
// shared/ is what both sides run; site-agent/ (with site-agent/src/hospital/, the only code that touches
// patient data) and coordinator/ never import each other; nothing imports cli/; only the demo reads the
// developers' public data sets (cli/src/public-data.ts); and no module is part of an import cycle.
const PRODUCT = ['shared/**/*.ts', 'coordinator/**/*.ts', 'site-agent/**/*.ts', 'cli/**/*.ts'];
const boundaryZones = [
  { target: './shared', from: ['./coordinator', './site-agent', './cli', './bench', './test'], message: 'shared/ is what both sides run: it imports nothing from the roles.' },
  { target: './coordinator', from: ['./site-agent', './cli', './bench', './test'], message: 'The coordinator never ships hospital (site-agent) code; what both need belongs in shared/.' },
  { target: './site-agent', from: ['./coordinator', './cli', './bench', './test'], message: 'The site agent never ships coordinator code; what both need belongs in shared/.' },
  { target: './cli', from: ['./bench', './test'] },
  {
    target: ['./shared', './coordinator', './site-agent', './cli'],
    from: './cli/src/public-data.ts',
    except: [],
    message: 'Only the demo may read the developers\' public data sets; nothing a site or the coordinator needs at run time comes from ../shared.',
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'protos/gen/**', 'coverage/**', '**/*.js', '**/*.mjs', 'vitest.config.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-restricted-imports': 'off',
    },
  },
  {
    files: PRODUCT,
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: boundaryZones }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // The demo is the one product path that may use the public data sets (as optional demo inputs).
    files: ['cli/src/commands/demo.ts', 'cli/src/commands/demo-*.ts', 'cli/src/demo/**/*.ts', 'cli/src/public-data.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: boundaryZones.slice(0, 4) }] },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
