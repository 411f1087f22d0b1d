import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, Locator, Page } from 'playwright-core';
import request from 'supertest';
import { useLyricsApp } from '../support/lyrics-client';
import { teardownAfterAll } from '../support/teardown';

/** Debian's chromium (scripts/check-chromium.js stops the run with how to install it when it is missing). */
const CHROMIUM = '/usr/bin/chromium';
/** Headless as root on a machine with no GPU, and no traffic of the browser's own (updates, sync, QUIC probes). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
/** How long one step of the UI (a render, a request it sends) may take on a busy two-core machine. */
const STEP_TIMEOUT_MS = 15_000;
const API_KEY = 'docs-reader-key';

/** The operation `METHOD /path` as Swagger UI shows it: one block per operation. */
function operation(page: Page, method: string, path: string): Locator {
  return page.locator(`.opblock.opblock-${method}`, { has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });
}

/** Opens the operation, fills its form with `fill`, executes it and answers what the UI shows: status and body. */
async function tryItOut(block: Locator, fill: (block: Locator) => Promise<void>): Promise<{ status: string; body: string }> {
  await block.locator('.opblock-summary-control').click();
  await block.getByRole('button', { name: 'Try it out' }).click();
  await fill(block);
  await block.getByRole('button', { name: 'Execute' }).click();
  const response = block.locator('.live-responses-table .response');
  await response.waitFor();
  return {
    status: (await response.locator('.response-col_status').innerText()).trim(),
    body: await response.locator('.response-col_description .highlight-code pre').innerText(),
  };
}

describe("the Swagger UI at /docs, in Debian's chromium", () => {
  const ctx = useLyricsApp({ sandbox: {}, env: { API_KEYS: `docs-reader:${API_KEY}` } });
  const teardown = teardownAfterAll();
  /** Console errors and uncaught exceptions of the page, over the whole session. */
  const pageErrors: string[] = [];
  let page: Page;

  beforeAll(async () => {
    const userDataDir = teardown.add(mkdtempSync(join(tmpdir(), 'lyrics-docs-chromium-')), (dir) =>
      rmSync(dir, { recursive: true, force: true }),
    );
    // A persistent context is the browser itself, on the profile folder made above.
    const browser = teardown.add(
      await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }),
      (persistent) => persistent.close(),
    );
    browser.setDefaultTimeout(STEP_TIMEOUT_MS);
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console error: ${message.text()}`);
    });
    page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
    await page.goto(`${ctx.url}/docs`);
  });

  it('lists every operation of /docs-json', async () => {
    const { body: document } = await request(ctx.url).get('/docs-json').expect(200);
    const documented = Object.entries<Record<string, unknown>>(document.paths)
      .flatMap(([path, item]) => Object.keys(item).flatMap((method) => (HTTP_METHODS.includes(method) ? [`${method} ${path}`] : [])))
      .sort();
    // Swagger UI renders the whole document at once, when it has loaded it.
    await page.locator('.opblock').first().waitFor();
    const listed = await page
      .locator('.opblock')
      .evaluateAll((blocks) =>
        blocks.map(
          (block) =>
            `${block.querySelector('.opblock-summary-method')?.textContent?.toLowerCase()} ${block.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`,
        ),
      );
    expect(listed.sort()).toEqual(documented);
  });

  it('authorizes with a client key in the Authorize dialog, then POST /lyrics answers 202 and GET /lyrics/{id} 200', async () => {
    await page.locator('.auth-wrapper').getByRole('button', { name: 'Authorize' }).click();
    const dialog = page.locator('.dialog-ux');
    await dialog.getByLabel('auth-bearer-value').fill(API_KEY);
    await dialog.getByRole('button', { name: 'Apply credentials' }).click();
    // The Logout button, there once the key is applied.
    await dialog.getByRole('button', { name: 'Remove authorization' }).waitFor();
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });

    // Our own body, not the documented example: that one names a webhook URL on the internet.
    const prompt = 'A song tried out in the browser';
    const submitted = await tryItOut(operation(page, 'post', '/lyrics'), (block) =>
      block.locator('textarea.body-param__text').fill(JSON.stringify({ prompt })),
    );
    expect(submitted.status).toBe('202');
    const task = JSON.parse(submitted.body);
    expect(task).toMatchObject({ prompt, status: 'queued' });
    expect((await ctx.taskRow(task.id)).owner).toBe('docs-reader');

    const read = await tryItOut(operation(page, 'get', '/lyrics/{id}'), (block) =>
      block.getByPlaceholder('id', { exact: true }).fill(task.id),
    );
    expect(read.status).toBe('200');
    expect(JSON.parse(read.body)).toMatchObject({ id: task.id, prompt });
  });

  it('logged no console error and threw no page error during the session', () => {
    expect(pageErrors).toEqual([]);
  });
});
