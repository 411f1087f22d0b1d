import { ValidateBy, ValidationOptions } from 'class-validator';

// PostgreSQL's text and jsonb cannot hold U+0000, and a lone surrogate has no UTF-8 form: jsonb refuses it and
// text would store U+FFFD instead. Either would be a 500 or an altered copy, so such input is refused up front.
const LONE_SURROGATE = /\p{Surrogate}/u;

const hasNul = (text: string): boolean => text.includes('\u0000');
const hasLoneSurrogate = (text: string): boolean => LONE_SURROGATE.test(text);
const isStorableText = (text: string): boolean => !hasNul(text) && !hasLoneSurrogate(text);

/**
 * Whether every string of a JSON value, object keys included, at any depth, can be stored as it is. Walks with a
 * stack of its own, so no nesting depth can overflow the call stack.
 */
export function isStorableJson(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current === 'string') {
      if (!isStorableText(current)) return false;
    } else if (Array.isArray(current)) {
      for (const item of current) pending.push(item);
    } else if (current !== null && typeof current === 'object') {
      for (const [key, item] of Object.entries(current)) {
        if (!isStorableText(key)) return false;
        pending.push(item);
      }
    }
  }
  return true;
}

/** A string without U+0000; other types are left to the type's own validator. */
export const HasNoNulCharacters = (options?: ValidationOptions): PropertyDecorator =>
  ValidateBy(
    { name: 'hasNoNulCharacters', validator: { validate: (value: unknown) => typeof value !== 'string' || !hasNul(value) } },
    { message: '$property must not contain NUL characters', ...options },
  );

/** A string without unpaired UTF-16 surrogates; other types are left to the type's own validator. */
export const HasNoLoneSurrogates = (options?: ValidationOptions): PropertyDecorator =>
  ValidateBy(
    { name: 'hasNoLoneSurrogates', validator: { validate: (value: unknown) => typeof value !== 'string' || !hasLoneSurrogate(value) } },
    { message: '$property must not contain lone surrogates', ...options },
  );

/** A JSON value whose strings and keys, at any depth, hold neither U+0000 nor a lone surrogate. */
export const IsStorableJson = (options?: ValidationOptions): PropertyDecorator =>
  ValidateBy(
    { name: 'isStorableJson', validator: { validate: isStorableJson } },
    { message: '$property must not contain NUL characters or lone surrogates', ...options },
  );
