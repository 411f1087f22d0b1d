import { BadRequestException, createParamDecorator, ExecutionContext } from '@nestjs/common';
import { Request } from 'express';

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
const MAX_LENGTH = 255;

/** The optional Idempotency-Key header, 1 to 255 characters; anything else is a 400 naming the header. */
export const IdempotencyKey = createParamDecorator((_: unknown, context: ExecutionContext): string | undefined => {
  const value = context.switchToHttp().getRequest<Request>().headers[IDEMPOTENCY_KEY_HEADER.toLowerCase()];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length < 1 || value.length > MAX_LENGTH) {
    throw new BadRequestException({
      statusCode: 400,
      error: 'Bad Request',
      message: [`${IDEMPOTENCY_KEY_HEADER} must be between 1 and ${MAX_LENGTH} characters`],
    });
  }
  return value;
});
