import { CreateLyricsTables1795782893358 } from './1795782893358-CreateLyricsTables';

/** Every migration of the lyrics module, in order, for the app's data source and for host apps. */
export const LYRICS_MIGRATIONS = [CreateLyricsTables1795782893358];
