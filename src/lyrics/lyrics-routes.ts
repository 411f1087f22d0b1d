/** Paths of the lyrics module, relative to its route prefix. */
export const LYRICS_ROUTE = 'lyrics';
export const CALLBACK_ROUTE = 'lyrics/callback';

/**
 * `callbackBaseUrl` is the public address plus the module's route prefix (LyricsSettings.callbackBaseUrl); without
 * one, KIE cannot call back (undefined) and the task is polled.
 */
export function callbackUrl(callbackBaseUrl: string | undefined, taskId: string, token: string): string | undefined {
  return callbackBaseUrl ? `${callbackBaseUrl}/${CALLBACK_ROUTE}/${taskId}/${token}` : undefined;
}
