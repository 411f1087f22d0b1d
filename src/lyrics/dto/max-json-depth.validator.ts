import { ValidateBy, ValidationOptions } from 'class-validator';

/** How deep `value` nests objects and arrays (a scalar is 0), walked with a stack of its own so no depth overflows. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    for (const item of Array.isArray(current) ? current : Object.values(current)) pending.push([item, depth + 1]);
  }
  return deepest;
}

/** A JSON value nested at most `maxDepth` levels of objects and arrays (the top-level object counts as one). */
export const MaxJsonDepth = (maxDepth: number, options?: ValidationOptions): PropertyDecorator =>
  ValidateBy(
    { name: 'maxJsonDepth', constraints: [maxDepth], validator: { validate: (value: unknown) => jsonDepth(value) <= maxDepth } },
    { message: `$property must be nested at most ${maxDepth} levels deep`, ...options },
  );
