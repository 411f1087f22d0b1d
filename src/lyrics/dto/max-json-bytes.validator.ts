import { registerDecorator, ValidationOptions } from 'class-validator';

/** The value's size as UTF-8 JSON; Infinity when JSON.stringify overflows the stack, thousands of levels deep (far over the limit). */
function jsonBytes(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
  } catch (error) {
    if (error instanceof RangeError) return Infinity;
    throw error;
  }
}

/** The value, serialised as JSON, takes at most `maxBytes` bytes of UTF-8. */
export function MaxJsonBytes(maxBytes: number, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'maxJsonBytes',
      target: target.constructor,
      propertyName: String(propertyName),
      constraints: [maxBytes],
      options: { message: `$property must be at most ${maxBytes} bytes as JSON`, ...options },
      validator: {
        validate: (value: unknown) => jsonBytes(value) <= maxBytes,
      },
    });
}
