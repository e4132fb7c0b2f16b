import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import svelte from 'eslint-plugin-svelte';
import svelteConfig from './svelte.config.js';

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'build', 'assembly/build', '.cache', 'bench/.cache', 'test/.out'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The engine runs unchanged in a Web Worker and in Node: it must not reach for either platform.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'os', 'child_process'],
              message: 'src/core runs in the browser too.',
            },
            { group: ['onnxruntime-*'], message: 'Only src/runtime talks to onnxruntime.' },
            {
              group: ['**/platform/**', '**/runtime/**', '**/cli/**', '**/ui/**', '**/worker/**'],
              message: 'Dependencies point inward.',
            },
          ],
        },
      ],
    },
  },
  {
    // Svelte components and rune modules: TypeScript inside, the same compiler options as the build.
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'], svelteConfig },
    },
  },
  {
    // The page talks to the engine only through the worker; it may import the worker API's types.
    files: ['src/ui/**/*.ts', 'src/ui/**/*.svelte'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/core/**',
                '**/platform/**',
                '**/runtime/**',
                '**/cli/**',
                '**/worker/*',
                '!**/worker/api.ts',
              ],
              message: 'The UI imports only src/worker/api.ts (types); the worker runs everything else.',
            },
            { group: ['onnxruntime-*'], message: 'Only src/runtime talks to onnxruntime.' },
          ],
        },
      ],
    },
  },
  {
    // Platform adapters implement the engine's interfaces and nothing more.
    files: ['src/platform/**/*.ts', 'src/runtime/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/ui/**', '**/worker/**', '**/cli/**'], message: 'Dependencies point inward.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/worker/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/ui/**', '**/cli/**', '**/platform/node/**'],
              message: 'The worker is the browser back end.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['public/sw.js'],
    languageOptions: { globals: globals.serviceworker },
  },
  {
    // AssemblyScript is TypeScript-shaped but has its own types (i32, f32, v128) and decorators.
    files: ['assembly/**/*.ts'],
    rules: { '@typescript-eslint/no-unused-vars': 'off', 'prefer-const': 'off' },
  },
);
