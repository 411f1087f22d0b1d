import { BadRequestException, createParamDecorator, ExecutionContext, Injectable, ValidationPipe } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { Request } from 'express';
import { CreateLyricsDto } from './dto/create-lyrics.dto';

/**
 * The client controller's own validation, with the options the standalone service also applies globally, so that a
 * host without a global ValidationPipe refuses the same input with the same 400s. Under a global pipe with these
 * options a value is validated twice, with the same outcome.
 */
@Injectable()
export class LyricsValidationPipe extends ValidationPipe {
  constructor() {
    super({ whitelist: true, forbidNonWhitelisted: true, transform: true });
  }
}

/**
 * POST /lyrics's body as the body parser left it. `@Body()` would hand it to every ValidationPipe in play, a host's
 * global one included, and ValidationPipe deletes `__proto__`, `constructor` and `prototype` keys at any depth, in
 * place; metadata is the client's own and must come back with any key names. ValidationPipe leaves custom
 * decorators alone (unless a host turns on validateCustomDecorators): CreateLyricsBodyPipe validates this one.
 */
export const SubmissionBody = createParamDecorator(
  (_: unknown, context: ExecutionContext): unknown => context.switchToHttp().getRequest<Request>().body,
);

/** A JSON object as a body parser makes it: not an array, a primitive, a Buffer, or no body at all. */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Validates a submission as LyricsValidationPipe would, except that `metadata` is set aside first: the prototype
 * keys are stripped from the rest (class-transformer would call an own `constructor` value as a constructor), and
 * the DTO's rules check the metadata exactly as it was sent, which is what is stored.
 */
@Injectable()
export class CreateLyricsBodyPipe extends LyricsValidationPipe {
  override async transform(body: unknown): Promise<CreateLyricsDto> {
    if (!isJsonObject(body)) {
      throw new BadRequestException({ statusCode: 400, error: 'Bad Request', message: ['body must be a JSON object'] });
    }
    const { metadata, ...fields } = body;
    this.stripProtoKeys(fields);
    const submission = plainToInstance(CreateLyricsDto, fields);
    if (metadata !== undefined) submission.metadata = metadata as CreateLyricsDto['metadata'];
    const errors = await validate(submission, { whitelist: true, forbidNonWhitelisted: true, validationError: { target: false } });
    if (errors.length > 0) throw await this.exceptionFactory(errors);
    return submission;
  }
}
