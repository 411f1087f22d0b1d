import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export const MAX_WAIT_SECONDS = 60;

export class GetLyricsQueryDto {
  @ApiPropertyOptional({
    minimum: 0,
    maximum: MAX_WAIT_SECONDS,
    default: 0,
    description: 'Long poll: answer as soon as the task is final, or after this many seconds with the task as it is then.',
  })
  @IsOptional()
  @Max(MAX_WAIT_SECONDS)
  @Min(0)
  @IsInt()
  @Type(() => Number)
  waitSeconds: number = 0;
}
