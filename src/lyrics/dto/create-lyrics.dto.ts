import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsNotEmpty, IsObject, IsOptional, IsString } from 'class-validator';
import { MaxJsonBytes } from './max-json-bytes.validator';

export const METADATA_MAX_BYTES = 4096;

export class CreateLyricsDto {
  @ApiProperty({
    description: 'What the lyrics are about: theme, mood, story. Trimmed; 1 to LYRICS_PROMPT_MAX_CHARS (default 200) characters.',
    example: 'A calm song about the sea',
    minLength: 1,
    maxLength: 200,
  })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @IsNotEmpty()
  @IsString()
  prompt: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'Any JSON object of yours (at most 4 KiB as JSON), returned with the task.',
    example: { customerRef: 'A-17' },
  })
  @IsOptional()
  @MaxJsonBytes(METADATA_MAX_BYTES)
  @IsObject()
  metadata?: Record<string, unknown>;
}
