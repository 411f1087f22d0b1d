import { LYRICS_SETTING_NAMES, lyricsSettingSpec } from '../lyrics';
import { createHash } from 'node:crypto';
import { bareKeyClientName } from './api-keys';
import { loadConfig } from './app-config';
import { ConfigError } from './environment';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('delivers webhooks to public https destinations only in production, on the schedule and exemptions given', () => {
    expect(loadConfig({}).webhooks).toEqual({ publicOnly: false, retryMs: undefined, allowedHosts: [] });
    const production = loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://app@db/lyrics',
      KIE_API_KEY: 'k',
      API_KEYS: 'a:0123456789abcdef',
      LYRICS_WEBHOOK_RETRY_MS: '1000, 60000',
      LYRICS_WEBHOOK_ALLOWED_HOSTS: 'hooks.internal, partner.example',
    });
    expect(production.webhooks).toEqual({ publicOnly: true, retryMs: [1000, 60000], allowedHosts: ['hooks.internal', 'partner.example'] });
    expect(configError({ LYRICS_WEBHOOK_RETRY_MS: '5s' })).toContain('LYRICS_WEBHOOK_RETRY_MS must be a comma-separated list');
    expect(configError({ LYRICS_WEBHOOK_RETRY_MS: '0,1000' })).toContain('LYRICS_WEBHOOK_RETRY_MS delays must be from 1 to 604800000 ms');
    expect(configError({ LYRICS_WEBHOOK_ALLOWED_HOSTS: 'https://x/' })).toContain('LYRICS_WEBHOOK_ALLOWED_HOSTS must be');
  });

  it('fills the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 3000,
      database: { url: undefined, migrationsRun: true },
      kie: { apiKey: undefined, baseUrl: 'https://api.kie.ai', route: 'legacy', timeoutMs: 15000 },
      publicBaseUrl: undefined,
      apiKeys: [],
    });
  });

  it('reads and converts every variable', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      DATABASE_URL: 'postgres://app@db:5432/lyrics',
      DATABASE_MIGRATIONS_RUN: 'false',
      KIE_API_KEY: 'kie-key',
      KIE_BASE_URL: 'http://127.0.0.1:4010/',
      KIE_API_ROUTE: 'jobs',
      KIE_TIMEOUT_MS: '5000',
      KIE_WEBHOOK_HMAC_KEY: 'hmac',
      PUBLIC_BASE_URL: 'https://lyrics.example.com/',
      API_KEYS: 'alice:alice-key-0123456789, alice:alice-key-rotated-01,bare-key-0123456789abc',
    });
    expect(config).toMatchObject({
      nodeEnv: 'production',
      port: 8080,
      database: { url: 'postgres://app@db:5432/lyrics', migrationsRun: false },
      kie: { apiKey: 'kie-key', baseUrl: 'http://127.0.0.1:4010', route: 'jobs', timeoutMs: 5000, webhookHmacKey: 'hmac' },
      publicBaseUrl: 'https://lyrics.example.com',
      apiKeys: [
        { name: 'alice', key: 'alice-key-0123456789' },
        { name: 'alice', key: 'alice-key-rotated-01' },
        { name: bareKeyClientName('bare-key-0123456789abc'), key: 'bare-key-0123456789abc' },
      ],
    });
  });

  it('names a bare key key- plus the first 8 hex characters of its SHA-256, never the key itself', () => {
    expect(bareKeyClientName('bare-key-0123456789abc')).toBe(
      `key-${createHash('sha256').update('bare-key-0123456789abc').digest('hex').slice(0, 8)}`,
    );
    expect(loadConfig({ API_KEYS: 'short' }).apiKeys).toEqual([{ name: bareKeyClientName('short'), key: 'short' }]);
  });

  it('reads an entry as client:key only when the part before the colon is a client name', () => {
    expect(loadConfig({ API_KEYS: 'Upper:x,bob:b:c' }).apiKeys).toEqual([
      { name: bareKeyClientName('Upper:x'), key: 'Upper:x' },
      { name: 'bob', key: 'b:c' },
    ]);
  });

  it('refuses keys under 16 characters in production, and a key given twice, naming the entries', () => {
    const message = configError({ NODE_ENV: 'production', API_KEYS: 'alice:tiny-key,bob:long-enough-key-0001,carol:long-enough-key-0001' });
    expect(message).toContain('API_KEYS entry 1 has a key shorter than 16 characters (production)');
    expect(message).toContain('API_KEYS entries 2 and 3 have the same key');
    expect(message).not.toContain('tiny-key');
    expect(message).not.toContain('long-enough-key');
  });

  it('reads several KIE accounts from KIE_API_KEYS, each with its HMAC key from KIE_WEBHOOK_HMAC_KEYS where given', () => {
    const config = loadConfig({ KIE_API_KEYS: 'main:key-one, spare:key:two', KIE_WEBHOOK_HMAC_KEYS: 'spare:hmac-two' });
    expect(config.kie.accounts).toEqual([
      { name: 'main', apiKey: 'key-one', webhookHmacKey: undefined },
      { name: 'spare', apiKey: 'key:two', webhookHmacKey: 'hmac-two' },
    ]);
    expect(
      loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/x', API_KEYS: 'a:0123456789abcdef', KIE_API_KEYS: 'a:k' }).kie
        .accounts,
    ).toHaveLength(1);
  });

  it.each([
    [{ KIE_API_KEYS: 'main:k1', KIE_API_KEY: 'k2' }, 'not both'],
    [{ KIE_API_KEYS: 'main:k1', KIE_WEBHOOK_HMAC_KEY: 'h' }, 'not both'],
    [{ KIE_WEBHOOK_HMAC_KEYS: 'main:h' }, 'KIE_WEBHOOK_HMAC_KEYS needs KIE_API_KEYS'],
    [{ KIE_API_KEYS: 'main:k1,secret-without-name' }, 'KIE_API_KEYS entry 2 must be name:value'],
    [{ KIE_API_KEYS: 'Main:k1' }, 'KIE_API_KEYS entry 1 must be name:value'],
    [{ KIE_API_KEYS: 'main:k1,main:k2' }, 'KIE_API_KEYS names the account main twice'],
    [{ KIE_API_KEYS: 'main:k1,spare:k1' }, 'KIE_API_KEYS gives the accounts main and spare the same key'],
    [
      { KIE_API_KEYS: 'main:k1', KIE_WEBHOOK_HMAC_KEYS: 'other:h' },
      'KIE_WEBHOOK_HMAC_KEYS names the account other, which KIE_API_KEYS does not',
    ],
  ])('refuses the KIE accounts %j, naming the problem and no key', (env, problem) => {
    const message = configError(env);
    expect(message).toContain(problem);
    expect(message).not.toMatch(/k1|k2|secret-without-name|:h\b/);
  });

  it('requires DATABASE_URL, KIE_API_KEY and API_KEYS in production, naming each', () => {
    const message = configError({ NODE_ENV: 'production' });
    expect(message).toContain('DATABASE_URL is required when NODE_ENV=production');
    expect(message).toContain('KIE_API_KEY (or KIE_API_KEYS) is required when NODE_ENV=production');
    expect(message).toContain('API_KEYS is required when NODE_ENV=production');
    expect(message.split('\n')).toHaveLength(1);
  });

  it.each([
    ['PORT', 'eighty', 'PORT must be an integer number'],
    ['PORT', '70000', 'PORT must not be greater than 65535'],
    ['DATABASE_URL', 'mysql://db/lyrics', 'DATABASE_URL must be a postgres:// or postgresql:// URL'],
    ['KIE_TIMEOUT_MS', '-1', 'KIE_TIMEOUT_MS must not be less than 100'],
    ['KIE_BASE_URL', 'api.kie.ai', 'KIE_BASE_URL must be a URL address'],
    ['KIE_API_ROUTE', 'market', 'KIE_API_ROUTE must be one of legacy, jobs'],
    ['DATABASE_MIGRATIONS_RUN', 'maybe', 'DATABASE_MIGRATIONS_RUN must be true or false'],
    ['NODE_ENV', 'staging', 'NODE_ENV must be one of the following values'],
    ['API_KEYS', 'a,,b', 'API_KEYS entry 2 must be a key or client:key, with a non-empty key and no spaces'],
    ['API_KEYS', 'alice:', 'API_KEYS entry 1 must be a key or client:key, with a non-empty key and no spaces'],
  ])('refuses a malformed %s (%s)', (name, value, expected) => {
    expect(configError({ [name]: value })).toContain(expected);
  });

  it('never echoes a value, since several are secrets', () => {
    const message = configError({ NODE_ENV: 'production', DATABASE_URL: 'mysql://user:hunter2@db/x' });
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('hunter2');
  });

  describe('the LYRICS_* variables', () => {
    it('leave every option unset when unset (or empty), so that the module defaults apply', () => {
      const config = loadConfig({ LYRICS_POLL_BUDGET: ' ', LYRICS_CONFIRM_CALLBACKS: '' });
      expect(Object.keys(config.lyrics).sort()).toEqual([...LYRICS_SETTING_NAMES].sort());
      expect(Object.values(config.lyrics).every((value) => value === undefined)).toBe(true);
    });

    it('set their module options', () => {
      const config = loadConfig({ LYRICS_POLL_BUDGET: ' 50 ', LYRICS_CONFIRM_CALLBACKS: 'TRUE', LYRICS_SIGNATURE_TOLERANCE_S: '60' });
      expect(config.lyrics).toMatchObject({
        pollBudget: 50,
        confirmCallbacks: true,
        signatureToleranceSeconds: 60,
        pollWindowMs: undefined,
      });
    });

    it.each([
      ['their smallest values', (spec: { min: number }) => spec.min, { KIE_TIMEOUT_MS: '100' }],
      ['their largest values', (spec: { max: number }) => spec.max, {}],
    ])('accept %s', (_, pick, rest: Record<string, string>) => {
      const env: Record<string, string> = { ...rest };
      for (const name of LYRICS_SETTING_NAMES) {
        const spec = lyricsSettingSpec(name);
        env[spec.env] = spec.type === 'integer' ? String(pick(spec)) : 'false';
      }
      const { lyrics } = loadConfig(env);
      for (const name of LYRICS_SETTING_NAMES) expect(String(lyrics[name])).toBe(env[lyricsSettingSpec(name).env]);
    });

    it.each([
      ['LYRICS_POLL_BUDGET', 'lots', 'LYRICS_POLL_BUDGET must be an integer from 1 to 100000'],
      ['LYRICS_POLL_BUDGET', '1.5', 'LYRICS_POLL_BUDGET must be an integer from 1 to 100000'],
      ['LYRICS_DISPATCH_INTERVAL_MS', '9', 'LYRICS_DISPATCH_INTERVAL_MS must be an integer from 10 to 600000'],
      ['LYRICS_TASK_MAX_AGE_MS', '2592000001', 'LYRICS_TASK_MAX_AGE_MS must be an integer from 1000 to 2592000000'],
      ['LYRICS_CONFIRM_CALLBACKS', 'maybe', 'LYRICS_CONFIRM_CALLBACKS must be true or false'],
      ['LYRICS_POLL_MAX_INTERVAL_MS', '2000', 'LYRICS_POLL_MAX_INTERVAL_MS must be at least LYRICS_POLL_INTERVAL_MS (10000)'],
      ['LYRICS_CREATE_RETRY_MAX_MS', '1999', 'LYRICS_CREATE_RETRY_MAX_MS must be at least LYRICS_CREATE_RETRY_BASE_MS (2000)'],
      ['LYRICS_LEASE_MS', '15000', 'LYRICS_LEASE_MS must be greater than KIE_TIMEOUT_MS (15000)'],
      ['KIE_TIMEOUT_MS', '60000', 'LYRICS_LEASE_MS must be greater than KIE_TIMEOUT_MS (60000)'],
    ])('refuse %s=%s in one line naming it (and what bounds it)', (name, value, expected) => {
      expect(configError({ [name]: value })).toBe(`Invalid configuration: ${expected}`);
    });

    it('are bounded by the values of the others, not only by their defaults', () => {
      expect(configError({ LYRICS_POLL_INTERVAL_MS: '60000', LYRICS_POLL_MAX_INTERVAL_MS: '30000' })).toBe(
        'Invalid configuration: LYRICS_POLL_MAX_INTERVAL_MS must be at least LYRICS_POLL_INTERVAL_MS (60000)',
      );
      expect(loadConfig({ LYRICS_POLL_INTERVAL_MS: '1000', LYRICS_POLL_MAX_INTERVAL_MS: '2000' }).lyrics).toMatchObject({
        pollIntervalMs: 1000,
        pollMaxIntervalMs: 2000,
      });
      expect(loadConfig({ KIE_TIMEOUT_MS: '1000', LYRICS_LEASE_MS: '1001' }).lyrics.leaseMs).toBe(1001);
    });

    it('name a wrong bound once, not again in the settings it bounds', () => {
      expect(configError({ LYRICS_POLL_INTERVAL_MS: '0', LYRICS_POLL_MAX_INTERVAL_MS: '2000' })).toBe(
        'Invalid configuration: LYRICS_POLL_INTERVAL_MS must be an integer from 1 to 86400000',
      );
      expect(configError({ KIE_TIMEOUT_MS: '700000' })).toBe('Invalid configuration: KIE_TIMEOUT_MS must not be greater than 600000');
    });

    it('are reported together with the other wrong variables, in one line', () => {
      const message = configError({ PORT: 'eighty', LYRICS_POLL_MAX_INTERVAL_MS: '2000', LYRICS_POLL_BUDGET: '0' });
      expect(message).toBe(
        'Invalid configuration: PORT must be an integer number; LYRICS_POLL_MAX_INTERVAL_MS must be at least LYRICS_POLL_INTERVAL_MS (10000); ' +
          'LYRICS_POLL_BUDGET must be an integer from 1 to 100000',
      );
    });

    it('never echo a refused value', () => {
      expect(configError({ LYRICS_PROMPT_MAX_CHARS: 'hunter2' })).not.toContain('hunter2');
    });
  });
});
