import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min, ValidateBy } from 'class-validator';
import { decodeEventCursor } from '../event-cursor';

export class ListEventsQueryDto {
  @ApiPropertyOptional({ description: "The previous page's `nextCursor`; without it the feed starts at the oldest kept event." })
  @IsOptional()
  @ValidateBy(
    {
      name: 'isEventCursor',
      validator: { validate: (value: unknown) => typeof value === 'string' && decodeEventCursor(value) !== undefined },
    },
    { message: '$property is not a cursor this API returned' },
  )
  @IsString()
  after?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Max(100)
  @Min(1)
  @IsInt()
  @Type(() => Number)
  limit: number = 20;
}
