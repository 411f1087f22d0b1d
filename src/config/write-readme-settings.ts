// `npm run docs:settings`: rewrites the README's LYRICS_* configuration rows from LYRICS_SETTING_TABLE.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLyricsSettingRows } from './lyrics-settings-readme';

const path = join(__dirname, '..', '..', 'README.md');
const readme = readFileSync(path, 'utf8');
const updated = withLyricsSettingRows(readme);
if (updated === readme) {
  process.stdout.write('README.md: the LYRICS_* rows are up to date\n');
} else {
  writeFileSync(path, updated);
  process.stdout.write('README.md: LYRICS_* rows rewritten from LYRICS_SETTING_TABLE\n');
}
