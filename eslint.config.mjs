// Lint for the bugs a type checker misses (a forgotten await, a switch that drops a new case) and for the
// project's boundaries; Prettier owns the formatting, so eslint-config-prettier turns the style rules off.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', '.data/', 'bench/results/', 'examples/*/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    // The standalone service is a host like any other: it sees the lyrics module only through its public surface.
    files: ['src/**/*.ts'],
    ignores: ['src/lyrics/**', 'src/sandbox/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/lyrics/*'], message: "Import from the module's index ('./lyrics')." }] },
      ],
    },
  },
  {
    // Only persistence/ holds SQL: the rest of the module calls its stores.
    files: ['src/lyrics/**/*.ts'],
    ignores: ['src/lyrics/persistence/**', 'src/lyrics/migrations/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'pg', message: 'Only src/lyrics/persistence/ talks to PostgreSQL.' }] }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.property.name='query']", message: 'SQL belongs in src/lyrics/persistence/.' },
        { selector: "CallExpression[callee.property.name='getRepository']", message: 'SQL belongs in src/lyrics/persistence/.' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: globals.node,
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['**/*.mjs'], languageOptions: { sourceType: 'module' } },
  prettier,
);
