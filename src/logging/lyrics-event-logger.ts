import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { LYRICS_CANCELLED, LYRICS_FAILED, LYRICS_SUCCEEDED, LyricsFinalEvent } from '../lyrics';

/**
 * One log line per delivered event (at least once: a redelivery logs again, with the same eventId), so that operators
 * and the fault tests see each final transition reach a host handler.
 */
@Injectable()
export class LyricsEventLogger {
  private readonly logger = new Logger('LyricsEvents');

  @OnEvent(LYRICS_SUCCEEDED)
  @OnEvent(LYRICS_FAILED)
  @OnEvent(LYRICS_CANCELLED)
  record(event: LyricsFinalEvent): void {
    const { id: taskId, kieTaskId, error } = event.task;
    this.logger.log(event.name, { eventId: event.id, owner: event.owner, taskId, kieTaskId, ...(error ? { errorCode: error.code } : {}) });
  }
}
