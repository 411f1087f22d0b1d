import { Injectable, Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { databaseNow } from './clock.sql';
import { LyricsDatabase } from './lyrics-database';
import { errorMessage } from '../error-message';

/** How long a measured offset is trusted before it is measured again (clocks drift slowly; NTP may step them). */
const REFRESH_MS = 60_000;

/**
 * The database's clock, read without a round trip per use: the offset between it and this instance's clock is
 * measured once a minute (halfway through the round trip), so that time windows checked outside SQL (a callback
 * signature's timestamp) agree with the database whatever this instance's clock says.
 */
@Injectable()
export class DatabaseClock {
  private readonly logger = new Logger(DatabaseClock.name);
  private offsetMs: number | undefined;
  private measuredAt = -Infinity;
  private measuring: Promise<void> | undefined;

  constructor(private readonly db: LyricsDatabase) {}

  /** The database's time now, in Unix milliseconds. */
  async nowMs(): Promise<number> {
    if (this.offsetMs === undefined) await this.measure();
    else if (performance.now() - this.measuredAt > REFRESH_MS) void this.measure();
    return Date.now() + (this.offsetMs ?? 0);
  }

  private measure(): Promise<void> {
    this.measuring ??= (async () => {
      try {
        const sentAt = Date.now();
        const [row] = await this.db.rows<{ nowMs: number }>(databaseNow());
        const offsetMs = row.nowMs - (sentAt + Date.now()) / 2;
        if (Math.abs(offsetMs) > 5000 && (this.offsetMs === undefined || Math.abs(offsetMs - this.offsetMs) > 5000)) {
          const seconds = Math.round(Math.abs(offsetMs) / 1000);
          this.logger.warn(
            `This instance's clock is ${seconds} s ${offsetMs > 0 ? 'behind' : 'ahead of'} the database's; the database's is used`,
          );
        }
        this.offsetMs = offsetMs;
        this.measuredAt = performance.now();
      } catch (error) {
        // The last offset (or none) stays in use; the next read tries again.
        this.logger.warn(`Could not read the database's clock: ${errorMessage(error)}`);
      } finally {
        this.measuring = undefined;
      }
    })();
    return this.measuring;
  }
}
