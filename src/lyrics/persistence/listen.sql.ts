import { Statement } from './lyrics-database';
import { unnamed } from './sql';

/** LISTEN takes an identifier, not a parameter: only the module's own channel constants reach these. */
export const listen = (channel: string): Statement => unnamed(`LISTEN ${channel}`, []);
export const unlisten = (channel: string): Statement => unnamed(`UNLISTEN ${channel}`, []);
