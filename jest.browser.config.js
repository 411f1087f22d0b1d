// npm run test:browser: the tests that drive Debian's chromium (test/browser/), with the main suite's setup. Apart
// from jest.config.js, whose testRegex never matches them, so that `npm test` needs nothing but Node.
const main = require('./jest.config');

module.exports = { ...main, roots: ['<rootDir>/test/browser'], testRegex: '\\.browser-spec\\.ts$' };
