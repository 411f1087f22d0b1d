import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { LYRICS_FAILED, LYRICS_SUCCEEDED, LyricsFinalEvent } from '../lyrics';

/** One log line per published event, so that operators (and the fault tests) can see each final transition. */
@Injectable()
export class LyricsEventLogger {
  private readonly logger = new Logger('LyricsEvents');

  @OnEvent(LYRICS_SUCCEEDED)
  @OnEvent(LYRICS_FAILED)
  record(event: LyricsFinalEvent): void {
    const { id: taskId, kieTaskId, error } = event.task;
    this.logger.log(event.name, { taskId, kieTaskId, ...(error ? { errorCode: error.code } : {}) });
  }
}
