import { Injectable } from '@nestjs/common';
import { LyricsDatabase } from './lyrics-database';
import * as sql from './events.sql';
import { EventRecord } from './events.sql';

export interface EventPage {
  events: EventRecord[];
  /** Whether more events follow this page now (a reader continues from the last event's position either way). */
  hasMore: boolean;
}

/** lyrics_events: the outbox the one door writes, read as each owner's feed. */
@Injectable()
export class EventStore {
  constructor(private readonly db: LyricsDatabase) {}

  async page(input: Parameters<typeof sql.eventPage>[0]): Promise<EventPage> {
    const rows = await this.db.rows<EventRecord>(sql.eventPage(input));
    return { events: rows.slice(0, input.limit), hasMore: rows.length > input.limit };
  }

  /** Deletes up to `batch` events older than `days`; returns how many. */
  prune(days: number, batch: number): Promise<number> {
    return this.db.count(sql.pruneEvents({ days, batch }));
  }
}
