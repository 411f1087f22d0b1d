import { LYRICS_SETTING_NAMES, lyricsSettingSpec } from './lyrics-settings';
import { LyricsModuleOptions, LyricsOptionsError, resolveLyricsSettings } from './lyrics.options';

const withCallbacks = { routePrefix: 'lyrics', clientController: false, callbackController: true };
const base: LyricsModuleOptions = { kie: { apiKey: 'k' }, publicBaseUrl: 'https://lyrics.example.com/' };

function optionsError(options: Partial<LyricsModuleOptions>): string {
  try {
    resolveLyricsSettings({ ...base, ...options }, withCallbacks);
  } catch (error) {
    expect(error).toBeInstanceOf(LyricsOptionsError);
    return (error as Error).message;
  }
  throw new Error('expected a LyricsOptionsError');
}

describe('resolveLyricsSettings', () => {
  it('fills the defaults of LYRICS_SETTING_TABLE', () => {
    expect(resolveLyricsSettings(base, withCallbacks)).toEqual({
      kie: {
        accounts: [{ name: 'default', apiKey: 'k', webhookHmacKey: undefined }],
        baseUrl: 'https://api.kie.ai',
        route: 'legacy',
        timeoutMs: 15000,
        connectTimeoutMs: 5000,
      },
      callbackBaseUrl: 'https://lyrics.example.com/lyrics',
      resolveOwner: undefined,
      maxActivePerOwner: 10000,
      idempotencyTtlHours: 24,
      promptMaxChars: 200,
      createBudget: 20,
      createWindowMs: 10000,
      leaseMs: 60000,
      dispatchIntervalMs: 1000,
      dispatchConcurrency: 4,
      createRetryBaseMs: 2000,
      createRetryMaxMs: 60000,
      pollInitialDelayMs: 30000,
      pollIntervalMs: 10000,
      pollMaxIntervalMs: 300000,
      pollBudget: 100,
      pollWindowMs: 10000,
      pollConcurrency: 4,
      taskMaxAgeMs: 1800000,
      queueMaxAgeMs: 86400000,
      maxLongPolls: 1000,
      accountProbeMs: 60000,
      shutdownGraceMs: 10000,
      signatureToleranceSeconds: 300,
      confirmCallbacks: false,
      receiptBodyMaxBytes: 65536,
      receiptRetentionDays: 30,
      eventRetentionDays: 30,
      receiptsPerTask: 50,
      webhookTimeoutMs: 15000,
      webhookSecretOverlapSeconds: 86400,
      webhookConcurrency: 128,
      webhookOwnerConcurrency: 8,
      runWorkers: true,
      webhooks: { retryMs: [5000, 300000, 1800000, 7200000, 18000000, 36000000, 36000000], publicOnly: true, allowedHosts: [] },
    });
  });

  it('requires resolveOwner when the client controller is mounted', () => {
    const mounted = { ...withCallbacks, clientController: true };
    expect(() => resolveLyricsSettings(base, mounted)).toThrow(
      new LyricsOptionsError(
        "LyricsModule: resolveOwner is required when the client controller is mounted (return the caller's owner id, or undefined for 401)",
      ),
    );
    const resolveOwner = () => 'someone';
    expect(resolveLyricsSettings({ ...base, resolveOwner }, mounted).resolveOwner).toBe(resolveOwner);
  });

  it('takes several KIE accounts as kie.accounts, in order, each with its own HMAC key or none', () => {
    const accounts = [
      { name: 'main', apiKey: 'k1', webhookHmacKey: 'h1' },
      { name: 'spare-2', apiKey: 'k2' },
    ];
    expect(resolveLyricsSettings({ ...base, kie: { accounts } }, withCallbacks).kie.accounts).toEqual([
      { name: 'main', apiKey: 'k1', webhookHmacKey: 'h1' },
      { name: 'spare-2', apiKey: 'k2', webhookHmacKey: undefined },
    ]);
  });

  it.each([
    [
      { apiKey: 'k', accounts: [{ name: 'a', apiKey: 'k2' }] },
      'LyricsModule: give kie.apiKey (and kie.webhookHmacKey) or kie.accounts, not both',
    ],
    [{ accounts: [] }, 'LyricsModule: kie.accounts must list 1 to 100 accounts'],
    [{ accounts: [{ name: 'Bad Name', apiKey: 'k' }] }, 'LyricsModule: kie.accounts[0].name must be 1 to 32 lower-case letters'],
    [{ accounts: [{ name: 'a', apiKey: '' }] }, 'LyricsModule: kie.accounts a needs an apiKey'],
    [
      {
        accounts: [
          { name: 'a', apiKey: 'k1' },
          { name: 'a', apiKey: 'k2' },
        ],
      },
      'LyricsModule: kie.accounts has two accounts named a',
    ],
    [
      {
        accounts: [
          { name: 'a', apiKey: 'k1' },
          { name: 'b', apiKey: 'k1' },
        ],
      },
      "LyricsModule: kie.accounts b has another account's apiKey",
    ],
    [{}, 'LyricsModule: kie.apiKey (or kie.accounts) is required'],
  ])('refuses the KIE accounts %j, naming the problem and never a key', (kie, problem) => {
    const message = optionsError({ kie } as LyricsModuleOptions);
    expect(message).toContain(problem);
    expect(message).not.toMatch(/\bk1\b|\bk2\b/);
  });

  it("takes KIE's Jobs route as kie.route, and refuses any other route naming the choices", () => {
    expect(resolveLyricsSettings({ ...base, kie: { apiKey: 'k', route: 'jobs' } }, withCallbacks).kie.route).toBe('jobs');
    expect(optionsError({ kie: { apiKey: 'k', route: 'market' as 'jobs' } })).toBe('LyricsModule: kie.route must be one of legacy, jobs');
  });

  it('checks for results sooner when KIE is given no callback URL', () => {
    expect(resolveLyricsSettings({ kie: { apiKey: 'k' } }, withCallbacks).pollInitialDelayMs).toBe(3000);
    expect(resolveLyricsSettings(base, { routePrefix: '', clientController: false, callbackController: false }).pollInitialDelayMs).toBe(
      3000,
    );
    expect(resolveLyricsSettings({ ...base, pollInitialDelayMs: 0 }, withCallbacks).pollInitialDelayMs).toBe(0);
  });

  it.each([
    [{ createBudget: 0 }, 'LyricsModule: createBudget must be an integer from 1 to 10000'],
    [{ pollBudget: 1.5 }, 'LyricsModule: pollBudget must be an integer from 1 to 100000'],
    [{ confirmCallbacks: 'yes' as unknown as boolean }, 'LyricsModule: confirmCallbacks must be true or false'],
    [{ pollMaxIntervalMs: 2000 }, 'LyricsModule: pollMaxIntervalMs must be at least pollIntervalMs (10000)'],
    [{ pollIntervalMs: 500, pollMaxIntervalMs: 499 }, 'LyricsModule: pollMaxIntervalMs must be at least pollIntervalMs (500)'],
    [{ createRetryMaxMs: 1000 }, 'LyricsModule: createRetryMaxMs must be at least createRetryBaseMs (2000)'],
    [{ leaseMs: 15000 }, 'LyricsModule: leaseMs must be greater than kie.timeoutMs (15000)'],
    [{ kie: { apiKey: 'k', timeoutMs: 90000 } }, 'LyricsModule: leaseMs must be greater than kie.timeoutMs (90000)'],
    [{ pollIntervalMs: 0, pollMaxIntervalMs: 2000 }, 'LyricsModule: pollIntervalMs must be an integer from 1 to 86400000'],
  ])('refuses %j, naming the option and what bounds it', (options, expected) => {
    expect(optionsError(options)).toBe(expected);
  });

  it('takes a webhook schedule and exempt hosts, and refuses ones it cannot use', () => {
    const webhooks = { retryMs: [100, 200], publicOnly: false, allowedHosts: ['Hooks.Example.com'] };
    expect(resolveLyricsSettings({ ...base, webhooks }, withCallbacks).webhooks).toEqual({
      retryMs: [100, 200],
      publicOnly: false,
      allowedHosts: ['hooks.example.com'],
    });
    const schedule = 'LyricsModule: webhooks.retryMs must be at most 20 integers from 1 to 604800000';
    expect(optionsError({ webhooks: { retryMs: [0] } })).toBe(schedule);
    expect(optionsError({ webhooks: { retryMs: Array(21).fill(1) } })).toBe(schedule);
    expect(optionsError({ webhooks: { allowedHosts: ['http://x'] } })).toBe('LyricsModule: webhooks.allowedHosts must be host names');
  });

  it('accepts an option equal to the one bounding it from below', () => {
    const settings = resolveLyricsSettings(
      { ...base, pollIntervalMs: 2000, pollMaxIntervalMs: 2000, createRetryMaxMs: 2000 },
      withCallbacks,
    );
    expect(settings).toMatchObject({ pollMaxIntervalMs: 2000, createRetryMaxMs: 2000 });
  });

  it.each([
    ['their smallest values', (spec: { min: number }) => spec.min, 100],
    ['their largest values', (spec: { max: number }) => spec.max, 15000],
  ])('accepts every setting at %s', (_, pick, timeoutMs) => {
    const options: LyricsModuleOptions = { ...base, kie: { apiKey: 'k', timeoutMs } };
    const given = Object.fromEntries(
      LYRICS_SETTING_NAMES.map((name) => {
        const spec = lyricsSettingSpec(name);
        return [name, spec.type === 'integer' ? pick(spec) : true];
      }),
    );
    expect(resolveLyricsSettings({ ...options, ...given }, withCallbacks)).toMatchObject(given);
  });
});
