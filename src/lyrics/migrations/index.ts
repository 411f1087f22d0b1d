import { CreateLyricsTables1795783261810 } from './1795783261810-CreateLyricsTables';

/** Every migration of the lyrics module, in order, for the app's data source and for host apps. */
export const LYRICS_MIGRATIONS = [CreateLyricsTables1795783261810];
