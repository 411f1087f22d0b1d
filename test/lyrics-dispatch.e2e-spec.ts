import { KieSandbox } from '../src/sandbox/kie-sandbox';
import { busiestWindow } from './support/busiest-window';
import { createTestDatabase } from './support/database';
import { LyricsContext, startLyricsApp, useLyricsApp } from './support/lyrics-client';
import { teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

describe('dispatching creates to KIE', () => {
  const afterTest = teardownAfterEach();

  describe('outcomes of a create', () => {
    const ctx = useLyricsApp({
      sandbox: { resultDelayMs: 60_000 },
      env: { KIE_TIMEOUT_MS: '300', LYRICS_LEASE_MS: '1000', LYRICS_CREATE_RETRY_BASE_MS: '20', LYRICS_CREATE_RETRY_MAX_MS: '100' },
    });

    it.each([
      ['a body code 430 ("call frequency is too high")', '[sandbox:throttle=2] throttled by body code', [430, 430, 200]],
      ['an HTTP 429', '[sandbox:throttle-http=2] throttled by HTTP status', [429, 429, 200]],
    ])('retries a create refused with %s, with backoff, until KIE accepts it', async (_, prompt, codes) => {
      const { id } = await ctx.submit(prompt);
      const task = await ctx.waitForStatus(id, 'submitted');
      const creates = ctx.createsFor(prompt);
      expect(creates.map((r) => r.code)).toEqual(codes);
      expect(task.kieTaskId).toBe(creates[2].taskId);
      expect((await ctx.taskRow(id)).attempts).toBe(3);
    });

    it.each([
      [413, 'Theme or prompt too long'],
      [401, 'You do not have access permissions'],
    ])('fails a create KIE rejects with %s as upstream_rejected, with its message, and does not resend it', async (code, message) => {
      const prompt = `[sandbox:reject=${code}] rejected`;
      const { id } = await ctx.submit(prompt);
      const task = await ctx.waitForStatus(id, 'failed');
      expect(task.error.code).toBe('upstream_rejected');
      expect(task.error.message).toContain(message);
      expect(task.completedAt).not.toBeNull();
      expect(ctx.createsFor(prompt)).toHaveLength(1);
    });

    it('fails a create that was sent but never answered as submit_outcome_unknown, and never sends it again', async () => {
      const prompt = '[sandbox:hang] a create whose answer is lost';
      const { id } = await ctx.submit(prompt);
      const task = await ctx.waitForStatus(id, 'failed');
      expect(task.error.code).toBe('submit_outcome_unknown');
      expect(ctx.createsFor(prompt)).toHaveLength(1);
      // KIE did create (and bill) it: the reason the create must never be repeated.
      expect(ctx.sandbox.tasks().filter((t) => t.prompt === prompt)).toHaveLength(1);
    });

    it('fails, without resending, a task whose create went out before its instance died; sends again one that never left', async () => {
      const sentPrompt = 'a task an instance sent and died with';
      const unsentPrompt = 'a task an instance claimed and died with before sending';
      const waitingPrompt = 'a task an instance stored and died before claiming';
      const orphan = (prompt: string, sentAt: string) =>
        ctx.query(
          `INSERT INTO lyrics_tasks (owner, status, prompt, next_attempt_at, lease_until, attempts, callback_token_hash, sent_at)
           VALUES ('anonymous', 'queued', $1, clock_timestamp(), clock_timestamp() - interval '1 second', 1, repeat('a', 64), ${sentAt})
           RETURNING id`,
          [prompt],
        );
      const [sent] = await orphan(sentPrompt, "clock_timestamp() - interval '1 minute'");
      const [unsent] = await orphan(unsentPrompt, 'NULL');
      const [waiting] = await ctx.query(
        `INSERT INTO lyrics_tasks (owner, status, prompt, next_attempt_at) VALUES ('anonymous', 'queued', $1, clock_timestamp()) RETURNING id`,
        [waitingPrompt],
      );
      const failed = await ctx.waitForStatus(sent.id, 'failed');
      expect(failed.error.code).toBe('submit_outcome_unknown');
      await ctx.waitForStatus(unsent.id, 'submitted');
      await ctx.waitForStatus(waiting.id, 'submitted');
      expect(ctx.createsFor(sentPrompt)).toHaveLength(0);
      expect(ctx.createsFor(unsentPrompt)).toHaveLength(1);
      expect(ctx.createsFor(waitingPrompt)).toHaveLength(1);
      // The resent one was claimed afresh: a second attempt, with the moment it went out recorded.
      expect(await ctx.taskRow(unsent.id)).toMatchObject({ attempts: 2, sent_at: expect.any(Date) });
    });
  });

  it.each([
    ['could not be sent (connection refused)', false],
    ['was answered with HTTP 503 (so not accepted)', true],
  ])('keeps a create that %s queued, and retries it', async (_, withSandbox) => {
    const ctx = await startLyricsApp(afterTest, {
      sandbox: withSandbox ? {} : undefined,
      env: { LYRICS_CREATE_RETRY_BASE_MS: '20', LYRICS_CREATE_RETRY_MAX_MS: '50' },
    });
    const prompt = '[sandbox:http-status=503] nobody is answering';
    const { id } = await ctx.submit(prompt);
    await waitFor('a few attempts', async () => (await ctx.taskRow(id)).attempts >= 3);
    expect(await ctx.task(id)).toMatchObject({ status: 'queued', error: null, kieTaskId: null });
    if (withSandbox) expect(ctx.createsFor(prompt).every((r) => r.httpStatus === 503)).toBe(true);
  });

  describe('the global create budget: 20 per 10 s, as KIE allows', () => {
    const limitedKie = async () =>
      afterTest.add(await KieSandbox.start({ resultDelayMs: 120_000, createLimit: { max: 20, windowMs: 10_000 } }), (kie) => kie.stop());

    /** Submits 50 tasks, spread over the instances, and checks KIE's view once all are submitted: its creates. */
    const burst = async (instances: LyricsContext[], label: string) => {
      const prompts = Array.from({ length: 50 }, (_, i) => `${label} burst ${i}`);
      const accepted = await Promise.all(prompts.map((prompt, i) => instances[i % instances.length].submit(prompt)));
      await instances[0].waitForAll(
        accepted.map((task) => task.id as string),
        'submitted',
        { timeoutMs: 40000, intervalMs: 200 },
      );
      const creates = instances[0].requestsTo('create');
      expect(creates.filter((r) => r.httpStatus === 429)).toHaveLength(0);
      expect(creates).toHaveLength(50);
      expect(busiestWindow(instances[0].sandbox.requests, 10_000)).toBe(20);
      return creates;
    };

    it('sends a burst of 50 without one 429 and never more than 20 in any 10 s', async () => {
      const sandbox = await limitedKie();
      const creates = await burst([await startLyricsApp(afterTest, { sandbox })], 'one instance');
      // The first 20 go at once (within about 100 ms of their submission), the rest as the window allows.
      const first = creates.map((r) => r.startedAt).sort((a, b) => a - b);
      expect(first[19] - first[0]).toBeLessThan(2000);
      expect(first[20] - first[0]).toBeGreaterThanOrEqual(10_000);
    });

    it('keeps the same budget across two instances sharing one database', async () => {
      const sandbox = await limitedKie();
      const database = afterTest.add(await createTestDatabase(), (own) => own.drop());
      const first = await startLyricsApp(afterTest, { sandbox, database });
      const second = await startLyricsApp(afterTest, { sandbox, database });
      await burst([first, second], 'two instances');
    });
  });
});
