import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, Min, ValidateBy } from 'class-validator';
import { TASK_STATUSES, TaskStatus } from '../entities/lyrics-task.entity';
import { decodeCursor } from '../lyrics-cursor';

export class ListLyricsQueryDto {
  @ApiPropertyOptional({ enum: TASK_STATUSES })
  @IsOptional()
  @IsIn(TASK_STATUSES)
  status?: TaskStatus;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Max(100)
  @Min(1)
  @IsInt()
  @Type(() => Number)
  limit: number = 20;

  @ApiPropertyOptional({ description: 'The `nextCursor` of the previous page.' })
  @IsOptional()
  @ValidateBy(
    {
      name: 'isListCursor',
      validator: { validate: (value: unknown) => typeof value === 'string' && decodeCursor(value) !== undefined },
    },
    { message: '$property is not a cursor this API returned' },
  )
  @IsString()
  cursor?: string;
}
