/**
 * What a test (or a block of tests) started and must close when it ends: closed in hooks, not in try/finally, in
 * the reverse order of starting (an app before its database), each one even if another fails.
 */
export class Teardown {
  private readonly steps: (() => unknown)[] = [];

  /** Registers `close(thing)` and hands `thing` back, so that starting and registering read as one line. */
  add<T>(thing: T, close: (thing: T) => unknown): T {
    this.steps.push(() => close(thing));
    return thing;
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} teardown steps failed`);
  }
}

/** A teardown run after each test of the enclosing block. */
export function teardownAfterEach(): Teardown {
  const teardown = new Teardown();
  afterEach(() => teardown.run());
  return teardown;
}

/** A teardown run once the enclosing block's tests are done. */
export function teardownAfterAll(): Teardown {
  const teardown = new Teardown();
  afterAll(() => teardown.run());
  return teardown;
}
