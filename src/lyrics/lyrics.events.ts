import { LyricsTaskDto } from './dto/lyrics-task.dto';

/** Emitted once when a task becomes succeeded (also when a timed-out task gets its result late). */
export const LYRICS_SUCCEEDED = 'lyrics.succeeded';
/** Emitted once when a task becomes failed. */
export const LYRICS_FAILED = 'lyrics.failed';

export class LyricsSucceededEvent {
  readonly name = LYRICS_SUCCEEDED;
  constructor(readonly task: LyricsTaskDto) {}
}

export class LyricsFailedEvent {
  readonly name = LYRICS_FAILED;
  constructor(readonly task: LyricsTaskDto) {}
}

export type LyricsFinalEvent = LyricsSucceededEvent | LyricsFailedEvent;
