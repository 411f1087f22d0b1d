import { BadRequestException, Inject, Injectable, PipeTransform } from '@nestjs/common';
import { CreateLyricsDto } from './dto/create-lyrics.dto';
import { LYRICS_SETTINGS, LyricsSettings } from './lyrics.options';

/**
 * The prompt's configurable upper bound, in Unicode code points (an emoji is one, though two UTF-16 units). A
 * decorator on the DTO cannot read the module's settings, so this pipe checks it right after validation, in the
 * same error shape.
 */
@Injectable()
export class PromptLengthPipe implements PipeTransform<CreateLyricsDto, CreateLyricsDto> {
  constructor(@Inject(LYRICS_SETTINGS) private readonly settings: LyricsSettings) {}

  transform(body: CreateLyricsDto): CreateLyricsDto {
    const max = this.settings.promptMaxChars;
    if ([...body.prompt].length > max) {
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: [`prompt must be shorter than or equal to ${max} characters`],
      });
    }
    return body;
  }
}
