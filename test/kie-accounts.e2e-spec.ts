import request from 'supertest';
import { KieSandbox, KieSandboxOptions } from '../src/sandbox/kie-sandbox';
import { busiestWindow } from './support/busiest-window';
import { answeredDeliveries, kieFixture, receiptsOf, signatureHeaders } from './support/callbacks';
import { createTestDatabase } from './support/database';
import { LyricsContext, startLyricsApp } from './support/lyrics-client';
import { metricSample } from './support/metrics';
import { teardownAfterEach } from './support/teardown';
import { waitFor } from './support/wait';

const ACCOUNTS = [
  { name: 'main', apiKey: 'kie-key-main', hmacKey: 'hmac-key-main' },
  { name: 'spare', apiKey: 'kie-key-spare', hmacKey: 'hmac-key-spare' },
];
const HMAC_OF = Object.fromEntries(ACCOUNTS.map((account) => [account.name, account.hmacKey]));

/** The service and the sandbox configured with the same two accounts, each with its own key and HMAC key. */
const twoAccounts = (route: 'legacy' | 'jobs', env: Record<string, string> = {}, sandbox: Partial<KieSandboxOptions> = {}) => ({
  sandbox: { route, accounts: ACCOUNTS, resultDelayMs: 30, callbackRetryDelayMs: 20, ...sandbox },
  env: {
    KIE_API_ROUTE: route,
    KIE_API_KEYS: ACCOUNTS.map((account) => `${account.name}:${account.apiKey}`).join(','),
    KIE_WEBHOOK_HMAC_KEYS: ACCOUNTS.map((account) => `${account.name}:${account.hmacKey}`).join(','),
    LYRICS_DISPATCH_INTERVAL_MS: '50',
    LYRICS_POLL_INITIAL_DELAY_MS: '60000',
    ...env,
  },
});

const scrape = async (ctx: LyricsContext) => (await request(ctx.url).get('/metrics').expect(200)).text;
const health = async (ctx: LyricsContext) => (await request(ctx.url).get('/health').expect(200)).body.info.kieAccounts.accounts;

/** The sandbox's own record of which account created each KIE task: the truth the task rows must match. */
const sandboxAccountOf = (ctx: LyricsContext, kieTaskId: string) => ctx.sandbox.task(kieTaskId)!.account;

describe.each(['legacy', 'jobs'] as const)('several KIE accounts on the %s route', (route) => {
  const afterTest = teardownAfterEach();

  it("spreads creates over the accounts, never past one's budget, and checks each callback with its own account's key", async () => {
    // Two creates per account per minute: four tasks fill both budgets, a fifth must wait.
    const ctx = await startLyricsApp(
      afterTest,
      twoAccounts(route, { LYRICS_CREATE_BUDGET: '2', LYRICS_CREATE_WINDOW_MS: '60000' }, { createLimit: { max: 2, windowMs: 60000 } }),
    );
    const tasks = await Promise.all([1, 2, 3, 4].map((n) => ctx.submit(`a song about harbor number ${n}`)));
    await ctx.waitForAll(
      tasks.map((task) => task.id),
      'succeeded',
    );
    for (const { id } of tasks) {
      const row = await ctx.taskRow(id);
      expect(row.kie_account).toBe(sandboxAccountOf(ctx, row.kie_task_id));
      // Signed with that account's key: a callback signed with another account's is refused (below).
      expect((await answeredDeliveries(ctx.sandbox, row.kie_task_id)).map((delivery) => delivery.status)).toEqual([200]);
      expect((await receiptsOf(ctx.testApp, id)).map((receipt) => receipt.outcome)).toEqual(['applied']);
    }
    const accepted = ctx.requestsTo('create').filter((create) => create.code === 200);
    expect(accepted.filter((create) => create.account === 'main')).toHaveLength(2);
    expect(accepted.filter((create) => create.account === 'spare')).toHaveLength(2);
    expect(ctx.requestsTo('create').filter((create) => create.httpStatus === 429 || create.code === 429)).toHaveLength(0);

    const waitsBefore = metricSample(await scrape(ctx), 'lyrics_budget_waits_total{bucket="create"}') ?? 0;
    const fifth = await ctx.submit('a fifth song, with no account left to take it');
    await waitFor(
      'the dispatcher to find no room',
      async () => (metricSample(await scrape(ctx), 'lyrics_budget_waits_total{bucket="create"}') ?? 0) > waitsBefore,
    );
    expect((await ctx.task(fifth.id)).status).toBe('queued');
    expect(ctx.createsFor('a fifth song, with no account left to take it')).toHaveLength(0);
  });

  it("refuses a callback signed with another account's HMAC key, and takes it signed with the task's own", async () => {
    const ctx = await startLyricsApp(afterTest, twoAccounts(route));
    const tasks = await Promise.all([1, 2].map((n) => ctx.submit(`[sandbox:drop] a song whose callback we send ourselves ${n}`)));
    const rows = await Promise.all(tasks.map(async ({ id }) => (await ctx.waitForStatus(id, 'submitted')) && ctx.taskRow(id)));
    expect(new Set(rows.map((row) => row.kie_account))).toEqual(new Set(['main', 'spare']));
    for (const row of rows) {
      const other = ACCOUNTS.find((account) => account.name !== row.kie_account)!;
      const body = kieFixture('callback-success-kie-snake_case.json');
      body.data.task_id = row.kie_task_id;
      const path = ctx.callbackPathOf(row.kie_task_id);
      await request(ctx.url).post(path).set(signatureHeaders(row.kie_task_id, other.hmacKey)).send(body).expect(401);
      expect((await ctx.task(row.id)).status).toBe('submitted');
      await request(ctx.url).post(path).set(signatureHeaders(row.kie_task_id, HMAC_OF[row.kie_account])).send(body).expect(200);
      expect((await ctx.task(row.id)).status).toBe('succeeded');
      expect((await receiptsOf(ctx.testApp, row.id)).map((receipt) => receipt.outcome)).toEqual(['unauthorized', 'applied']);
    }
  });

  it("reads each task's record with the key of the account that created it", async () => {
    // KIE shows an account only its own tasks: read with the other key, a record would never appear.
    const ctx = await startLyricsApp(
      afterTest,
      twoAccounts(route, { LYRICS_POLL_INITIAL_DELAY_MS: '100', LYRICS_POLL_INTERVAL_MS: '100' }),
    );
    const tasks = await Promise.all([1, 2].map((n) => ctx.submit(`[sandbox:drop] a song read by polling ${n}`)));
    await ctx.waitForAll(
      tasks.map((task) => task.id),
      'succeeded',
    );
    const rows = await Promise.all(tasks.map((task) => ctx.taskRow(task.id)));
    expect(new Set(rows.map((row) => row.kie_account))).toEqual(new Set(['main', 'spare']));
    for (const row of rows) {
      expect(row.result_source).toBe('poll');
      const reads = ctx.requestsTo('record-info', row.kie_task_id);
      expect(reads.length).toBeGreaterThan(0);
      expect(reads.every((read) => read.account === row.kie_account)).toBe(true);
    }
  });

  it('pauses an account out of credits (402) without failing its task, and resumes it once its credits endpoint shows credit', async () => {
    const ctx = await startLyricsApp(
      afterTest,
      twoAccounts(route, { LYRICS_ACCOUNT_PROBE_MS: '200' }, { accounts: ACCOUNTS.map((account) => ({ ...account, credits: 1 })) }),
    );
    // One credit each: two tasks spend them, the third is refused 402 by both accounts in turn.
    const spent = await Promise.all([1, 2].map((n) => ctx.submit(`a song that spends a credit ${n}`)));
    await ctx.waitForAll(
      spent.map((task) => task.id),
      'succeeded',
    );
    const third = await ctx.submit('a song that waits for credits');
    await waitFor('both accounts to be paused', async () => (await health(ctx)).every((account: any) => account.status === 'paused'));
    expect(await health(ctx)).toEqual([
      { name: 'main', status: 'paused', reason: 'credits', since: expect.any(String) },
      { name: 'spare', status: 'paused', reason: 'credits', since: expect.any(String) },
    ]);
    const metrics = await scrape(ctx);
    expect(metricSample(metrics, 'kie_account_paused{account="main"}')).toBe(1);
    expect(metricSample(metrics, 'kie_account_paused{account="spare"}')).toBe(1);
    const refused = ctx.createsFor('a song that waits for credits');
    expect(refused.map((create) => [create.account, create.code]).sort()).toEqual([
      ['main', 402],
      ['spare', 402],
    ]);
    expect((await ctx.task(third.id)).status).toBe('queued');

    const probesBefore = ctx.requestsTo('credit').filter((read) => read.account === 'main').length;
    ctx.sandbox.setAccount('spare', { credits: 5 });
    const done = await ctx.waitForStatus(third.id, 'succeeded');
    expect(sandboxAccountOf(ctx, done.kieTaskId)).toBe('spare');
    expect(ctx.createsFor('a song that waits for credits')).toHaveLength(3);
    // main is still dry: probed again, and still paused.
    await waitFor(
      'main to be probed again',
      () => ctx.requestsTo('credit').filter((read) => read.account === 'main').length > probesBefore,
    );
    expect(await health(ctx)).toEqual([
      { name: 'main', status: 'paused', reason: 'credits', since: expect.any(String) },
      { name: 'spare', status: 'usable' },
    ]);
    expect(metricSample(await scrape(ctx), 'kie_account_paused{account="spare"}')).toBe(0);
  });
});

describe('two instances sharing one database and two KIE accounts', () => {
  const afterTest = teardownAfterEach();

  it('keeps every account within its budget whichever instance sends: the budgets are rows the instances share', async () => {
    const database = afterTest.add(await createTestDatabase(), (own) => own.drop());
    const { sandbox: sandboxOptions, env } = twoAccounts(
      'legacy',
      { LYRICS_CREATE_BUDGET: '3', LYRICS_CREATE_WINDOW_MS: '60000' },
      { createLimit: { max: 3, windowMs: 60000 } },
    );
    const sandbox = afterTest.add(await KieSandbox.start(sandboxOptions), (own) => own.stop());
    const [first, second] = await Promise.all([1, 2].map(() => startLyricsApp(afterTest, { sandbox, env, database })));
    // Ten tasks, five through each instance, against six creates a minute in all.
    const tasks = await Promise.all(
      Array.from({ length: 10 }, (_, n) => (n % 2 === 0 ? first : second).submit(`a song from either instance ${n}`)),
    );
    await waitFor('six tasks to be sent', async () => (await first.taskCount('queued')) === 4);
    for (const instance of [first, second]) {
      await waitFor(
        'each instance to find no account with room',
        async () => (metricSample(await scrape(instance), 'lyrics_budget_waits_total{bucket="create"}') ?? 0) > 0,
      );
    }
    const accepted = first.requestsTo('create').filter((create) => create.code === 200);
    for (const account of ['main', 'spare']) {
      expect(
        busiestWindow(
          accepted.filter((create) => create.account === account),
          60000,
        ),
      ).toBe(3);
    }
    expect(accepted).toHaveLength(6);
    expect(sandbox.requests.filter((r) => r.endpoint === 'create' && (r.httpStatus === 429 || r.code === 429))).toHaveLength(0);
    const rows = await first.query(
      'SELECT kie_account, count(*)::int AS n FROM lyrics_tasks WHERE id = ANY($1) AND status <> $2 GROUP BY 1 ORDER BY 1',
      [tasks.map((task) => task.id), 'queued'],
    );
    expect(rows).toEqual([
      { kie_account: 'main', n: 3 },
      { kie_account: 'spare', n: 3 },
    ]);
  });
});

describe('a single KIE_API_KEY (the account default)', () => {
  const afterTest = teardownAfterEach();

  it('pauses the account over its sub-key limit (433) and resumes it when the probe shows credit; the task waits, then succeeds', async () => {
    const ctx = await startLyricsApp(afterTest, {
      sandbox: { resultDelayMs: 30, callbackRetryDelayMs: 20 },
      env: { LYRICS_DISPATCH_INTERVAL_MS: '50', LYRICS_ACCOUNT_PROBE_MS: '300' },
    });
    ctx.sandbox.setAccount('default', { subKeyLimited: true });
    const { id } = await ctx.submit('a song over the sub-key limit');
    await waitFor('the account to be paused', async () => (await health(ctx))[0].status === 'paused');
    expect(await health(ctx)).toEqual([{ name: 'default', status: 'paused', reason: 'sub_key_limit', since: expect.any(String) }]);
    expect((await ctx.task(id)).status).toBe('queued');
    // KIE's credits do not show a sub-key's usage: each probe that shows credit resumes the account, and its next
    // create pauses it again until the limit is lifted.
    const codes = () => ctx.createsFor('a song over the sub-key limit').map((create) => create.code);
    expect(codes().length).toBeGreaterThan(0);
    expect(codes().every((code) => code === 433)).toBe(true);

    ctx.sandbox.setAccount('default', { subKeyLimited: false });
    const done = await ctx.waitForStatus(id, 'succeeded');
    expect(codes().slice(-1)).toEqual([200]);
    expect(
      codes()
        .slice(0, -1)
        .every((code) => code === 433),
    ).toBe(true);
    expect((await ctx.taskRow(id)).kie_account).toBe('default');
    expect(sandboxAccountOf(ctx, done.kieTaskId)).toBe('default');
    expect(await health(ctx)).toEqual([{ name: 'default', status: 'usable' }]);
  });
});
