import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { kieFixture, receiptsOf } from './support/callbacks';
import { useLyricsApp } from './support/lyrics-client';
import { serviceLogFile } from './support/service-logs';
import { metricSample } from './support/metrics';

const RECEIPTS_PER_TASK = 5;
const WARNING_INTERVAL_MS = 10_000;

/** The value of one sample in Prometheus text; 0 when the series is absent (a counter not yet incremented). */
const sample = (metrics: string, series: string): number => metricSample(metrics, series) ?? 0;

/** Everything the app logged so far in this test file (the test app's logger writes to this file, synchronously). */
function serviceLog(): string {
  try {
    return readFileSync(serviceLogFile(), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

describe('the open webhook, flooded', () => {
  const ctx = useLyricsApp({ sandbox: { resultDelayMs: 30 }, env: { LYRICS_RECEIPTS_PER_TASK: String(RECEIPTS_PER_TASK) } });

  const scrape = async () => (await request(ctx.url).get('/metrics').expect(200)).text;

  /** A task KIE accepted and will never call back about, and the callBackUrl KIE was given for it. */
  async function submittedTask(prompt: string) {
    const { id } = await ctx.submit(`[sandbox:drop] ${prompt}`);
    const { kieTaskId } = await ctx.waitForStatus(id, 'submitted');
    return { id: id as string, kieTaskId: kieTaskId as string, callbackPath: ctx.callbackPathOf(kieTaskId) };
  }

  function success(kieTaskId: string) {
    const body = kieFixture('callback-success-kie-snake_case.json');
    body.data.task_id = kieTaskId;
    return body;
  }

  /** Rows of every table of the app's schema, by table. */
  async function rowCounts(): Promise<Record<string, number>> {
    const tables = await ctx.query<{ name: string }>(
      `SELECT quote_ident(table_name) AS name FROM information_schema.tables
       WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
    );
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['lyrics_callback_receipts', 'lyrics_tasks']));
    const counts = await Promise.all(
      tables.map(async ({ name }) => [name, Number((await ctx.query(`SELECT count(*) AS n FROM ${name}`))[0].n)] as const),
    );
    return Object.fromEntries(counts);
  }

  const databaseBytes = async () => Number((await ctx.query('SELECT pg_database_size(current_database()) AS n'))[0].n);

  it('stores nothing for 300 unauthenticated 60 KB callbacks (the database grows by less than 1 MiB), answers each 401, counts them and warns a bounded number of times', async () => {
    const { id, kieTaskId, callbackPath } = await submittedTask('a target');
    const rowsBefore = await rowCounts();
    const sizeBefore = await databaseBytes();
    const taskBefore = await ctx.taskRow(id);
    const metricsBefore = await scrape();
    const logBefore = serviceLog().length;
    const wrongToken = 'forged-callback-token-9f2c41d7';
    // Incompressible, so that a stored copy would really take its 60 KB (PostgreSQL compresses repetitive text).
    const body = { ...success(kieTaskId), padding: randomBytes(45 * 1024).toString('base64') };
    const paths = {
      unknown_task: (i: number) => `/lyrics/callback/7a4c1c39-5a0e-4a54-9d8a-${String(i).padStart(12, '0')}/${wrongToken}`,
      wrong_token: (i: number) => callbackPath.replace(/\/[^/]+$/, `/${wrongToken}-${i}`),
      invalid_task_id: (i: number) => `/lyrics/callback/not-a-task-${i}/${wrongToken}`,
    };
    const perReason = 100;
    const startedAt = Date.now();
    for (let batch = 0; batch < perReason / 10; batch++) {
      const answers = await Promise.all(
        Object.values(paths).flatMap((path) =>
          Array.from({ length: 10 }, (_, i) =>
            request(ctx.url)
              .post(path(batch * 10 + i))
              .send(body),
          ),
        ),
      );
      expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 401));
      expect(answers.map((answer) => answer.body.message)).toEqual(answers.map(() => 'callback not authenticated'));
    }
    const elapsedMs = Date.now() - startedAt;

    expect(await rowCounts()).toEqual(rowsBefore);
    expect((await databaseBytes()) - sizeBefore).toBeLessThan(1024 * 1024);
    expect(await ctx.taskRow(id)).toEqual(taskBefore);
    const metricsAfter = await scrape();
    for (const reason of Object.keys(paths)) {
      const series = `lyrics_callbacks_unmatched_total{reason="${reason}"}`;
      expect(sample(metricsAfter, series) - sample(metricsBefore, series)).toBe(perReason);
    }
    const unauthorized = 'lyrics_callback_receipts_total{outcome="unauthorized"}';
    expect(sample(metricsAfter, unauthorized)).toBe(sample(metricsBefore, unauthorized));

    // One warning per interval at most, the first at once; none names the token or repeats the id sent.
    const log = serviceLog().slice(logBefore);
    const warnings = log.split('\n').filter((line) => line.includes('no task matches its id and token'));
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBeLessThanOrEqual(1 + Math.floor(elapsedMs / WARNING_INTERVAL_MS) + 1);
    expect(log).not.toContain(wrongToken);
    expect(log).not.toContain('not-a-task-');
  });

  it(`keeps ${RECEIPTS_PER_TASK} receipts of a task's repeated callbacks, answering all of them 200, its result intact`, async () => {
    const { id, kieTaskId, callbackPath } = await submittedTask('repeated');
    const metricsBefore = await scrape();
    const outcomes: string[] = [];
    for (let i = 0; i < RECEIPTS_PER_TASK * 3; i++) {
      const answer = await request(ctx.url).post(callbackPath).send(success(kieTaskId)).expect(200);
      outcomes.push(answer.body.outcome);
    }
    expect(outcomes).toEqual(['applied', ...Array.from({ length: RECEIPTS_PER_TASK * 3 - 1 }, () => 'duplicate')]);

    const receipts = await receiptsOf(ctx.testApp, id);
    expect(receipts.map((r) => r.outcome)).toEqual(['applied', ...Array.from({ length: RECEIPTS_PER_TASK - 1 }, () => 'duplicate')]);
    const task = await ctx.task(id);
    expect(task).toMatchObject({ status: 'succeeded', error: null });
    expect(task.variants.map((v: { title: string }) => v.title)).toEqual(['Harbor Night', 'City Sleeps']);
    const metricsAfter = await scrape();
    const notStored = 'lyrics_callback_receipts_not_stored_total{outcome="duplicate"}';
    expect(sample(metricsAfter, notStored) - sample(metricsBefore, notStored)).toBe(RECEIPTS_PER_TASK * 2);
    const duplicates = 'lyrics_callback_receipts_total{outcome="duplicate"}';
    expect(sample(metricsAfter, duplicates) - sample(metricsBefore, duplicates)).toBe(RECEIPTS_PER_TASK * 3 - 1);
  });

  it('applies a result after the cap was used up by refused callbacks, without its receipt', async () => {
    const { id, kieTaskId, callbackPath } = await submittedTask('garbled first');
    for (let i = 0; i < RECEIPTS_PER_TASK + 2; i++) {
      await request(ctx.url).post(callbackPath).set('content-type', 'application/json').send('{"code": 200, "data": {').expect(400);
    }
    const answer = await request(ctx.url).post(callbackPath).send(success(kieTaskId)).expect(200);
    expect(answer.body).toEqual({ status: 'received', outcome: 'applied' });
    expect((await ctx.task(id)).status).toBe('succeeded');
    expect((await receiptsOf(ctx.testApp, id)).map((r) => r.outcome)).toEqual(Array.from({ length: RECEIPTS_PER_TASK }, () => 'malformed'));
  });
});
