import { ApiProperty } from '@nestjs/swagger';
import { TASK_ERROR_CODES, TASK_STATUSES, TaskErrorCode, TaskStatus } from '../entities/lyrics-task.entity';

export class LyricsVariantDto {
  @ApiProperty({ example: 'Harbor Night' })
  title: string;

  @ApiProperty({ example: '[Verse]\nLamplight on the harbor wall\n...' })
  text: string;

  @ApiProperty({ enum: ['complete', 'failed'] })
  status: 'complete' | 'failed';

  @ApiProperty({ type: String, nullable: true, example: null })
  errorMessage: string | null;
}

export class LyricsTaskErrorDto {
  @ApiProperty({ enum: TASK_ERROR_CODES })
  code: TaskErrorCode;

  @ApiProperty({ example: 'Song Description flagged for moderation' })
  message: string;
}

/** The task resource, as every client route returns it. */
export class LyricsTaskDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ enum: TASK_STATUSES })
  status: TaskStatus;

  @ApiProperty({ example: 'A calm song about the sea' })
  prompt: string;

  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, example: { customerRef: 'A-17' } })
  metadata: Record<string, unknown> | null;

  @ApiProperty({ type: String, nullable: true, example: null, description: 'Where final events are POSTed, as submitted.' })
  webhookUrl: string | null;

  @ApiProperty({ type: String, nullable: true, example: '3b66882fde0a5d398bd269cab6d9542b' })
  kieTaskId: string | null;

  @ApiProperty({ type: [LyricsVariantDto] })
  variants: LyricsVariantDto[];

  @ApiProperty({ type: LyricsTaskErrorDto, nullable: true })
  error: LyricsTaskErrorDto | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  submittedAt: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  completedAt: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt: string;
}

export class LyricsTaskPageDto {
  @ApiProperty({ type: [LyricsTaskDto] })
  items: LyricsTaskDto[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page; null on the last page.' })
  nextCursor: string | null;
}
