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
  it('fills the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 3000,
      database: { url: undefined, migrationsRun: true },
      kie: { apiKey: undefined, baseUrl: 'https://api.kie.ai', timeoutMs: 15000 },
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
      KIE_TIMEOUT_MS: '5000',
      KIE_WEBHOOK_HMAC_KEY: 'hmac',
      PUBLIC_BASE_URL: 'https://lyrics.example.com/',
      API_KEYS: 'one, two,three',
    });
    expect(config).toMatchObject({
      nodeEnv: 'production',
      port: 8080,
      database: { url: 'postgres://app@db:5432/lyrics', migrationsRun: false },
      kie: { apiKey: 'kie-key', baseUrl: 'http://127.0.0.1:4010', timeoutMs: 5000, webhookHmacKey: 'hmac' },
      publicBaseUrl: 'https://lyrics.example.com',
      apiKeys: ['one', 'two', 'three'],
    });
  });

  it('requires DATABASE_URL, KIE_API_KEY and API_KEYS in production, naming each', () => {
    const message = configError({ NODE_ENV: 'production' });
    expect(message).toContain('DATABASE_URL is required when NODE_ENV=production');
    expect(message).toContain('KIE_API_KEY is required when NODE_ENV=production');
    expect(message).toContain('API_KEYS is required when NODE_ENV=production');
    expect(message.split('\n')).toHaveLength(1);
  });

  it.each([
    ['PORT', 'eighty', 'PORT must be an integer number'],
    ['PORT', '70000', 'PORT must not be greater than 65535'],
    ['DATABASE_URL', 'mysql://db/lyrics', 'DATABASE_URL must be a postgres:// or postgresql:// URL'],
    ['KIE_TIMEOUT_MS', '-1', 'KIE_TIMEOUT_MS must not be less than 100'],
    ['KIE_BASE_URL', 'api.kie.ai', 'KIE_BASE_URL must be a URL address'],
    ['DATABASE_MIGRATIONS_RUN', 'maybe', 'DATABASE_MIGRATIONS_RUN must be true or false'],
    ['NODE_ENV', 'staging', 'NODE_ENV must be one of the following values'],
    ['API_KEYS', 'a,,b', 'API_KEYS must be a comma-separated list of non-empty keys'],
  ])('refuses a malformed %s (%s)', (name, value, expected) => {
    expect(configError({ [name]: value })).toContain(expected);
  });

  it('never echoes a value, since several are secrets', () => {
    const message = configError({ NODE_ENV: 'production', DATABASE_URL: 'mysql://user:hunter2@db/x' });
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('hunter2');
  });
});
