import { OwnPostgres } from './support/own-postgres';
import { startLyricsApp } from './support/lyrics-client';
import { teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

/**
 * KIE bills a create when it accepts it: an accepted create's answer must be stored even when the database is down at
 * the moment it arrives (invariant "never resubmit an ambiguous create": the answer is written with backoff while the
 * claim's lease holds).
 */
describe('a database outage while a create is being answered', () => {
  const afterTest = teardownAfterEach();

  it("stores KIE's answer once the database is back, without sending the create again", async () => {
    const postgres = afterTest.add(await OwnPostgres.start(), (own) => own.destroy());
    const ctx = await startLyricsApp(afterTest, {
      sandbox: {},
      database: postgres.database,
      env: { KIE_TIMEOUT_MS: '10000', LYRICS_LEASE_MS: '60000', LYRICS_POLL_INITIAL_DELAY_MS: '60000' },
    });
    // KIE accepts at once and answers 2 s later; no callback, so only the answer can tell us KIE's id.
    const prompt = '[sandbox:answer-delay=2000,drop] answered while the database is down';
    const { id } = await ctx.submit(prompt);
    await waitFor('KIE to receive the create', () => ctx.createsFor(prompt).length === 1);

    await postgres.pause();
    await waitFor('KIE to answer the create', () => ctx.createsFor(prompt)[0].finishedAt !== undefined, { timeoutMs: 10_000 });
    const answeredAt = ctx.createsFor(prompt)[0].finishedAt!;
    await postgres.resume();
    const resumedAt = Date.now();

    const task = await ctx.waitForStatus(id, 'submitted', { timeoutMs: 20_000 });
    const [create] = ctx.createsFor(prompt);
    expect(answeredAt).toBeLessThan(resumedAt);
    expect(task.kieTaskId).toBe(create.taskId);
    expect(ctx.sandbox.tasks().map((kieTask) => kieTask.taskId)).toEqual([create.taskId]);
    expect(ctx.createsFor(prompt)).toHaveLength(1);
    expect((await ctx.taskRow(id)).attempts).toBe(1);
  });
});
