// `npm run migration:generate -- <Name>`: diffs the entities against DATABASE_URL's schema and writes the
// migration into src/lyrics/migrations/. Add the new class to the list in src/lyrics/migrations/index.ts.
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

const name = process.argv[2];
if (!name || !/^[A-Za-z][A-Za-z0-9]*$/.test(name)) {
  console.error('usage: npm run migration:generate -- <Name>   (letters and digits, e.g. AddTaskSource)');
  process.exit(1);
}
const root = join(__dirname, '..');
execFileSync(
  process.execPath,
  [
    require.resolve('typeorm/cli.js'),
    'migration:generate',
    '--pretty',
    '-d',
    join(root, 'dist', 'database', 'data-source.js'),
    join(root, 'src', 'lyrics', 'migrations', name),
  ],
  { stdio: 'inherit', cwd: root },
);
