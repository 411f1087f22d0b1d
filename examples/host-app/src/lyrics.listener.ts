import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { LYRICS_SUCCEEDED, LyricsFinalEvent } from 'nestjs-kie-lyrics';

/** What this app does with a finished task. */
@Injectable()
export class LyricsListener {
  private readonly logger = new Logger(LyricsListener.name);

  // The module awaits this handler. With suppressErrors: false a throw or rejection is retried (after 1 s, doubling up
  // to 5 min) and the event kept until the handler returns; with Nest's default it would only be logged. Delivery is
  // at least once (from whichever instance is alive), so a handler with side effects dedupes by event.id.
  @OnEvent(LYRICS_SUCCEEDED, { suppressErrors: false })
  async onSucceeded(event: LyricsFinalEvent): Promise<void> {
    const titles = event.task.variants.map((variant) => variant.title).join(' | ');
    this.logger.log(`lyrics.succeeded task=${event.task.id} owner=${event.owner} event=${event.id} variants=${titles}`);
  }
}
