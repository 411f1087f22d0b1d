import { ApiProperty } from '@nestjs/swagger';
import { EVENT_TYPES, LyricsEventType } from '../entities/lyrics-event.entity';
import { LyricsTaskDto } from './lyrics-task.dto';

/** A final event, the same object the webhook and the feed carry. */
export class LyricsEventDto {
  @ApiProperty({ format: 'uuid', description: 'Stable: the same on every delivery of this event; dedupe by it.' })
  id: string;

  @ApiProperty({ enum: EVENT_TYPES })
  type: LyricsEventType;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: string;

  @ApiProperty({ type: LyricsTaskDto, description: 'The task as the transition left it.' })
  data: LyricsTaskDto;
}

export class LyricsEventPageDto {
  @ApiProperty({ type: [LyricsEventDto] })
  items: LyricsEventDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `after` to continue: the next page, or later the events that have committed since. Null only before any event.',
  })
  nextCursor: string | null;

  @ApiProperty({ description: 'Whether more events are ready now.' })
  hasMore: boolean;
}
