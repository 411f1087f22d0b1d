import { ApiProperty } from '@nestjs/swagger';
import { DELIVERY_STATUSES, DeliveryStatus } from '../entities/lyrics-delivery.entity';
import { EVENT_TYPES, LyricsEventType } from '../entities/lyrics-event.entity';
import { WEBHOOK_URL_EXAMPLE } from './create-lyrics.dto';

export class LyricsDeliveryAttemptDto {
  @ApiProperty({ type: String, format: 'date-time', description: 'When the attempt started.' })
  at: string;

  @ApiProperty({ type: Number, nullable: true, description: "The receiver's HTTP status; null when no answer came." })
  httpStatus: number | null;

  @ApiProperty({ type: String, nullable: true, description: 'Why the attempt did not deliver; null when it did.' })
  error: string | null;

  @ApiProperty()
  durationMs: number;
}

/** One final event's delivery to the task's webhook. */
export class LyricsDeliveryDto {
  @ApiProperty({ format: 'uuid', description: "The event's id: the webhook-id header of every attempt." })
  eventId: string;

  @ApiProperty({ enum: EVENT_TYPES })
  type: LyricsEventType;

  @ApiProperty({ example: WEBHOOK_URL_EXAMPLE })
  url: string;

  @ApiProperty({
    enum: DELIVERY_STATUSES,
    description:
      'pending: attempts go on; delivered: a 2xx came; failed: the schedule ended, or the URL was refused; stopped: the receiver answered 410.',
  })
  status: DeliveryStatus;

  @ApiProperty({ type: [LyricsDeliveryAttemptDto], description: 'Every attempt, oldest first.' })
  attempts: LyricsDeliveryAttemptDto[];

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the next attempt is due; null once over.' })
  nextAttemptAt: string | null;
}

export class LyricsDeliveryListDto {
  @ApiProperty({ type: [LyricsDeliveryDto] })
  items: LyricsDeliveryDto[];
}
