import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsNotEmpty, IsObject, IsOptional, IsString, IsUrl, MaxLength } from 'class-validator';
import { MaxJsonBytes } from './max-json-bytes.validator';
import { MaxJsonDepth } from './max-json-depth.validator';
import { HasNoLoneSurrogates, HasNoNulCharacters, IsStorableJson } from './storable-text.validator';

export const METADATA_MAX_BYTES = 4096;
export const WEBHOOK_URL_MAX_LENGTH = 2048;
/** The documented webhookUrl: the reserved .example TLD (RFC 2606) never resolves, so "Try it out" with it reaches nobody. */
export const WEBHOOK_URL_EXAMPLE = 'https://hooks.example/lyrics';
/** Deep enough for any real metadata; a bound makes every check of it (and its JSON) cheap and safe. */
export const METADATA_MAX_DEPTH = 32;

/** POST /lyrics's body. CreateLyricsBodyPipe builds it: `metadata` is never passed through class-transformer. */
export class CreateLyricsDto {
  @ApiProperty({
    description:
      'What the lyrics are about: theme, mood, story. Trimmed; 1 to LYRICS_PROMPT_MAX_CHARS (default 200) Unicode code points (an emoji is one).',
    example: 'A calm song about the sea',
    minLength: 1,
    maxLength: 200,
  })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @HasNoLoneSurrogates()
  @HasNoNulCharacters()
  @IsNotEmpty()
  @IsString()
  prompt: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      'Any JSON object of yours (at most 4 KiB as JSON and 32 levels deep, any key names), returned with the task as it was sent.',
    example: { customerRef: 'A-17' },
  })
  @IsOptional()
  @IsStorableJson()
  @MaxJsonDepth(METADATA_MAX_DEPTH)
  @MaxJsonBytes(METADATA_MAX_BYTES)
  @IsObject()
  metadata?: Record<string, unknown>;

  @ApiPropertyOptional({
    description:
      "Where this task's final events are POSTed, signed with your webhook secret (see GET /lyrics/webhook-secret) and retried for about a day. An absolute http(s) URL of at most 2048 characters; in production https, to a host with public addresses only.",
    example: WEBHOOK_URL_EXAMPLE,
    maxLength: WEBHOOK_URL_MAX_LENGTH,
  })
  @IsOptional()
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false, require_host: true, allow_underscores: true },
    { message: 'webhookUrl must be an absolute http or https URL' },
  )
  @MaxLength(WEBHOOK_URL_MAX_LENGTH)
  @IsString()
  webhookUrl?: string;
}
