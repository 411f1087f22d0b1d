import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LYRICS_SETTING_NAMES } from '../lyrics';
import { lyricsSettingRows, readmeLyricsRows, withLyricsSettingRows } from './lyrics-settings-readme';

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

const sample = [
  '# Service',
  '## Configuration',
  '| variable | default | meaning |',
  '|---|---|---|',
  '| `PORT` | `3000` | HTTP port |',
  '| `LYRICS_PROMPT_MAX_CHARS` | `500` | longest prompt, after trimming; 1 to 100000 |',
  '| `LYRICS_GONE_MS` | `1` | a setting the table no longer has |',
  '',
  '## Production',
  '| `LYRICS_OUTSIDE` | not in the Configuration section |',
].join('\n');

describe("the README's LYRICS_* configuration rows", () => {
  it('are the ones LYRICS_SETTING_TABLE renders (run `npm run docs:settings` to rewrite them)', () => {
    expect(readmeLyricsRows(readme)).toEqual(lyricsSettingRows());
  });

  it('render one row per setting, with its default (per mounting where it has two) and bounds', () => {
    const rows = lyricsSettingRows();
    expect(rows).toHaveLength(LYRICS_SETTING_NAMES.length);
    expect(rows).toContain('| `LYRICS_PROMPT_MAX_CHARS` | `200` | longest prompt, in Unicode code points after trimming; 1 to 100000 |');
    expect(rows.find((row) => row.startsWith('| `LYRICS_POLL_INITIAL_DELAY_MS` |'))).toContain(
      '| `30000` (`3000` without `PUBLIC_BASE_URL`) |',
    );
    expect(rows.find((row) => row.startsWith('| `LYRICS_POLL_MAX_INTERVAL_MS` |'))).toMatch(/; `LYRICS_POLL_INTERVAL_MS` to 86400000 \|$/);
    expect(rows.find((row) => row.startsWith('| `LYRICS_LEASE_MS` |'))).toMatch(/; 1000 to 3600000, above `KIE_TIMEOUT_MS` \|$/);
    expect(rows.find((row) => row.startsWith('| `LYRICS_CONFIRM_CALLBACKS` |'))).toMatch(
      /^\| `LYRICS_CONFIRM_CALLBACKS` \| `false` \| [^;]+ \|$/,
    );
  });

  it('disagree with the table on a wrong default, a missing row or an extra row', () => {
    const rows = readmeLyricsRows(sample);
    expect(rows).toEqual([
      '| `LYRICS_PROMPT_MAX_CHARS` | `500` | longest prompt, after trimming; 1 to 100000 |',
      '| `LYRICS_GONE_MS` | `1` | a setting the table no longer has |',
    ]);
    expect(rows).not.toEqual(lyricsSettingRows());
  });

  it('are rewritten in place, leaving the other rows and sections as they are', () => {
    const rewritten = withLyricsSettingRows(sample);
    expect(readmeLyricsRows(rewritten)).toEqual(lyricsSettingRows());
    const lines = rewritten.split('\n');
    expect(lines.slice(0, 5)).toEqual(sample.split('\n').slice(0, 5));
    expect(lines.slice(5 + LYRICS_SETTING_NAMES.length)).toEqual([
      '',
      '## Production',
      '| `LYRICS_OUTSIDE` | not in the Configuration section |',
    ]);
    expect(withLyricsSettingRows(rewritten)).toBe(rewritten);
  });

  it('are added at the end of the table when it has none', () => {
    const withoutLyrics = sample
      .split('\n')
      .filter((line) => !line.startsWith('| `LYRICS_') || line.includes('OUTSIDE'))
      .join('\n');
    expect(withLyricsSettingRows(withoutLyrics)).toBe(withLyricsSettingRows(sample));
  });
});
