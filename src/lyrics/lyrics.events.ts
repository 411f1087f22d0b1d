import { LyricsTaskDto } from './dto/lyrics-task.dto';
import { LyricsEventType } from './entities/lyrics-event.entity';

/** A task became succeeded (also a timed-out or unknown-outcome task that got its result late). */
export const LYRICS_SUCCEEDED = 'lyrics.succeeded';
/** A task became failed. */
export const LYRICS_FAILED = 'lyrics.failed';
/** The owner cancelled a task before anything was sent for it. */
export const LYRICS_CANCELLED = 'lyrics.cancelled';

/**
 * What a host's `@OnEvent(LYRICS_SUCCEEDED | LYRICS_FAILED | LYRICS_CANCELLED)` handler gets: the committed event, delivered at least
 * once, in order per task, by whichever instance is alive (so dedupe by `id`). Declare the handler with
 * `{ suppressErrors: false }` to have a throw or rejection retried; the event is handled once every handler returned.
 */
export interface LyricsFinalEvent {
  /** The event's stable id, the same on every delivery (and in the feed and the webhook). */
  id: string;
  name: LyricsEventType;
  /** The task's owner. */
  owner: string;
  /** The task as the transition left it. */
  task: LyricsTaskDto;
}
