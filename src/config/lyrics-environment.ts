import {
  checkLyricsSettings,
  LYRICS_SETTING_NAMES,
  LYRICS_SETTING_TABLE,
  LyricsOutsideValue,
  LyricsSettingName,
  LyricsSettingReference,
  LyricsSettingSpec,
  lyricsSettingSpec,
  LyricsTuningOptions,
} from '../lyrics';
import type { Environment } from './environment';

type Table = typeof LYRICS_SETTING_TABLE;

/** The LYRICS_* variables as read: unset ones stay unset, so that the module's defaults (some per mounting) apply. */
export type LyricsEnvironment = { [Name in LyricsSettingName as Table[Name]['env']]?: LyricsTuningOptions[Name] };

/** Where the service reads the values outside the table from, which some LYRICS_* bounds refer to. */
const OUTSIDE_VARIABLES = { 'kie.timeoutMs': 'KIE_TIMEOUT_MS' } as const satisfies Record<LyricsOutsideValue, keyof Environment>;

/** The environment variable of a setting, or of a value a setting is bounded by. */
export function lyricsVariable(reference: LyricsSettingReference): string {
  return reference in OUTSIDE_VARIABLES
    ? OUTSIDE_VARIABLES[reference as LyricsOutsideValue]
    : lyricsSettingSpec(reference as LyricsSettingName).env;
}

/** Whole numbers and "true"/"false"/"1"/"0" (any case); anything else is kept as given, for the check to refuse. */
function parse(spec: LyricsSettingSpec, text: string): unknown {
  if (spec.type === 'integer') return /^-?\d+$/.test(text) ? Number(text) : text;
  const normalised = text.toLowerCase();
  if (normalised === 'true' || normalised === '1') return true;
  if (normalised === 'false' || normalised === '0') return false;
  return text;
}

/**
 * Reads and checks the LYRICS_* variables against LYRICS_SETTING_TABLE, with the module's own check, so that what the
 * module would refuse inside Nest is refused here first with a message naming variables. `env` is the rest of the
 * environment, already validated; `refused` names its variables that were not, which bounds then leave alone.
 */
export function readLyricsEnvironment(
  raw: Record<string, string | undefined>,
  env: Environment,
  refused: ReadonlySet<string>,
): { lyrics: LyricsEnvironment; problems: string[] } {
  const given = Object.fromEntries(
    LYRICS_SETTING_NAMES.map((name) => {
      const spec = lyricsSettingSpec(name);
      const text = raw[spec.env]?.trim();
      return [name, text ? parse(spec, text) : undefined];
    }),
  );
  const outside = Object.fromEntries(
    Object.entries(OUTSIDE_VARIABLES).map(([reference, variable]) => [reference, refused.has(variable) ? undefined : env[variable]]),
  ) as Record<LyricsOutsideValue, number | undefined>;
  // As the README documents it: the service gives KIE a callback URL when PUBLIC_BASE_URL is set.
  const { problems } = checkLyricsSettings(given, { callbackUrl: env.PUBLIC_BASE_URL !== undefined, outside, nameOf: lyricsVariable });
  const lyrics = Object.fromEntries(LYRICS_SETTING_NAMES.map((name) => [lyricsSettingSpec(name).env, given[name]])) as LyricsEnvironment;
  return { lyrics, problems };
}

/** The module options the LYRICS_* variables set (unset ones stay undefined). */
export function lyricsOptionsFrom(lyrics: LyricsEnvironment): LyricsTuningOptions {
  const byVariable = lyrics as Record<string, number | boolean | undefined>;
  return Object.fromEntries(LYRICS_SETTING_NAMES.map((name) => [name, byVariable[lyricsSettingSpec(name).env]])) as LyricsTuningOptions;
}
