// Run before the browser tests (npm run test:browser): they drive Debian's chromium, so without it the run stops
// here at once, with one line saying how to install it, instead of failing in every test.
const { existsSync } = require('node:fs');

const CHROMIUM = '/usr/bin/chromium';

if (!existsSync(CHROMIUM)) {
  process.stderr.write(`${CHROMIUM} not found: the browser tests need Debian's chromium (apt-get install -y chromium)\n`);
  process.exit(1);
}
