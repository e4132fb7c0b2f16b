import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'build', 'assembly/build', '.cache', 'bench/.cache', 'test/.out'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
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
    // AssemblyScript is TypeScript-shaped but has its own types (i32, f32, v128) and decorators.
    files: ['assembly/**/*.ts'],
    rules: { '@typescript-eslint/no-unused-vars': 'off', 'prefer-const': 'off' },
  },
);
