// Nest 12 packages are ES modules: @swc/jest compiles them, and our TypeScript, to CommonJS (see STACK.md). From
// 'openapi-typescript' on: the ES modules that its CommonJS build requires (the path through its own node_modules/).
const esm = [
  '@nestjs',
  '@apidevtools',
  'file-type',
  'strtok3',
  'token-types',
  '@tokenizer',
  '@borewit',
  'uint8array-extras',
  'ansis',
  'openapi-typescript',
  'change-case',
  'index-to-position',
  'parse-json',
  'supports-color',
];
const swc = (syntax) => [
  '@swc/jest',
  {
    jsc: {
      parser: syntax === 'typescript' ? { syntax, decorators: true } : { syntax },
      transform: syntax === 'typescript' ? { legacyDecorator: true, decoratorMetadata: true } : undefined,
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '\\.(spec|e2e-spec)\\.ts$',
  transform: { '^.+\\.ts$': swc('typescript'), '^.+\\.m?js$': swc('ecmascript') },
  transformIgnorePatterns: [`/node_modules/(?!(${esm.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // Service logs go to one file per test file; this shows a failed file's log (every log with TEST_LOGS=1).
  reporters: ['default', '<rootDir>/test/support/service-log-reporter.js'],
  testTimeout: 60000,
  maxWorkers: 2,
};
