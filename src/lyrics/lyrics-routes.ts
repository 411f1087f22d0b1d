/** Paths of the lyrics module, relative to its route prefix. */
export const LYRICS_ROUTE = 'lyrics';
export const CALLBACK_ROUTE = 'lyrics/callback';

/** KIE requires a callBackUrl; with no public address we give one that cannot resolve (RFC 6761) and poll. */
export const NO_CALLBACK_URL = 'https://callback.invalid/kie-lyrics-polling-only';

/** `callbackBaseUrl` is the public address plus the module's route prefix (LyricsSettings.callbackBaseUrl). */
export function callbackUrl(callbackBaseUrl: string | undefined, taskId: string, token: string): string {
  return callbackBaseUrl ? `${callbackBaseUrl}/${CALLBACK_ROUTE}/${taskId}/${token}` : NO_CALLBACK_URL;
}
