import { LYRICS_SETTING_NAMES, LyricsSettingSpec, lyricsSettingSpec } from '../lyrics';
import { lyricsVariable } from './lyrics-environment';

const SECTION = '## Configuration';

const code = (text: string | number | boolean) => `\`${String(text)}\``;

function defaultCell(spec: LyricsSettingSpec): string {
  if (typeof spec.default !== 'object') return code(spec.default);
  return `${code(spec.default.withCallbackUrl)} (${code(spec.default.withoutCallbackUrl)} without ${code('PUBLIC_BASE_URL')})`;
}

function bounds(spec: LyricsSettingSpec): string {
  if (spec.type === 'boolean') return '';
  const from = spec.atLeast ? code(lyricsVariable(spec.atLeast)) : String(spec.min);
  const above = spec.above ? `, above ${code(lyricsVariable(spec.above))}` : '';
  return `; ${from} to ${spec.max}${above}`;
}

/** The README's configuration table rows of the LYRICS_* variables, rendered from LYRICS_SETTING_TABLE. */
export function lyricsSettingRows(): string[] {
  return LYRICS_SETTING_NAMES.map((name) => {
    const spec = lyricsSettingSpec(name);
    return `| ${code(spec.env)} | ${defaultCell(spec)} | ${spec.doc}${bounds(spec)} |`;
  });
}

const isLyricsRow = (line: string) => line.startsWith('| `LYRICS_');

/** The lines of the README's Configuration section, and where they start. */
function configurationSection(readme: string): { lines: string[]; start: number; end: number } {
  const lines = readme.split('\n');
  const start = lines.indexOf(SECTION);
  if (start === -1) throw new Error(`README has no "${SECTION}" section`);
  const next = lines.findIndex((line, index) => index > start && line.startsWith('## '));
  return { lines, start, end: next === -1 ? lines.length : next };
}

/** The LYRICS_* rows of the README's configuration table, as written. */
export function readmeLyricsRows(readme: string): string[] {
  const { lines, start, end } = configurationSection(readme);
  return lines.slice(start, end).filter(isLyricsRow);
}

/** The README with its LYRICS_* rows replaced by the rendered ones, where the first was (or at the table's end). */
export function withLyricsSettingRows(readme: string): string {
  const { lines, start, end } = configurationSection(readme);
  const section = lines.slice(start, end);
  const first = section.findIndex(isLyricsRow);
  const tableEnd = section.reduce((end, line, index) => (line.startsWith('|') ? index + 1 : end), 0);
  const at = first === -1 ? tableEnd : first;
  const kept = section.filter((line, index) => index < at || !isLyricsRow(line));
  kept.splice(at, 0, ...lyricsSettingRows());
  return [...lines.slice(0, start), ...kept, ...lines.slice(end)].join('\n');
}
