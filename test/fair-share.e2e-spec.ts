import { useLyricsApp } from './support/lyrics-client';

const ALICE = 'alice-key-0123456789';
const BOB = 'bob-key-0123456789abc';

/**
 * The create budget is shared round-robin among owners with due work, not first come first served: an owner who
 * submits a few tasks behind another owner's deep queue has them created within the next budget windows.
 */
describe('fair share of the create budget', () => {
  const ctx = useLyricsApp({
    sandbox: { resultDelayMs: 20, createLimit: { max: 100, windowMs: 1000 } },
    env: {
      API_KEYS: `alice:${ALICE},bob:${BOB}`,
      LYRICS_CREATE_BUDGET: '4',
      LYRICS_CREATE_WINDOW_MS: '1000',
      LYRICS_DISPATCH_CONCURRENCY: '4',
    },
  });

  it("creates a late owner's 4 tasks before the deep queue's next few, and every task in its owner's order", async () => {
    const alices: string[] = [];
    for (let i = 0; i < 40; i++) alices.push((await ctx.submit(`alice ${i}`, { apiKey: ALICE })).id);
    const bobSubmittedAt = Date.now();
    const bobs: string[] = [];
    for (let i = 0; i < 4; i++) bobs.push((await ctx.submit(`bob ${i}`, { apiKey: BOB })).id);
    await ctx.waitForAll(bobs, 'succeeded', { timeoutMs: 20000 });

    const creates = ctx.requestsTo('create');
    const bobCreates = creates.filter((create) => create.prompt?.startsWith('bob '));
    const lastBobAt = Math.max(...bobCreates.map((create) => create.startedAt));
    const aliceMeanwhile = creates.filter(
      (create) => create.prompt?.startsWith('alice ') && create.startedAt >= bobSubmittedAt && create.startedAt <= lastBobAt,
    );
    // Round-robin: at most one claim of Alice's already in flight when Bob arrived (4), then one of hers per one of his (4).
    // First come, first served would have sent the rest of Alice's queue first (over 30).
    expect(aliceMeanwhile.length).toBeLessThanOrEqual(8);
    expect(bobCreates.map((create) => create.prompt)).toEqual(['bob 0', 'bob 1', 'bob 2', 'bob 3']);
    await ctx.waitForAll(alices, 'succeeded', { timeoutMs: 30000 });
    const aliceOrder = ctx
      .requestsTo('create')
      .filter((create) => create.prompt?.startsWith('alice '))
      .map((create) => Number(create.prompt!.slice('alice '.length)));
    expect(aliceOrder).toEqual([...aliceOrder].sort((a, b) => a - b));
  });
});
