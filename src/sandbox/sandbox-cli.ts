import { parseArgs } from 'node:util';
import { MIX_KEYS, SandboxMix } from './sandbox-behaviours';
import type { JobsCallbackShape, KieSandboxOptions, SandboxAccountOptions } from './sandbox-options';

const CLI_DEFAULT_PORT = 4010;

/** `node dist/sandbox/main.js` flags as KieSandbox options; throws with a one-line message on a bad flag. */
export function parseSandboxArgs(args: string[]): KieSandboxOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      route: { type: 'string' },
      'jobs-callback-shape': { type: 'string' },
      'api-key': { type: 'string', multiple: true },
      'hmac-key': { type: 'string' },
      account: { type: 'string', multiple: true },
      'result-delay-ms': { type: 'string' },
      'callback-retry-delay-ms': { type: 'string' },
      'create-max': { type: 'string' },
      'create-window-ms': { type: 'string' },
      credits: { type: 'string' },
      'record-info-array-key': { type: 'string' },
      mix: { type: 'string' },
      seed: { type: 'string' },
      verbose: { type: 'boolean' },
    },
  });
  const int = (name: keyof typeof values, fallback?: number): number | undefined => {
    const text = values[name];
    if (text === undefined) return fallback;
    if (typeof text !== 'string' || !/^\d+$/.test(text)) throw new Error(`--${name} must be a whole number, got "${String(text)}"`);
    return Number(text);
  };
  const arrayKey = values['record-info-array-key'];
  if (arrayKey !== undefined && arrayKey !== 'data' && arrayKey !== 'lyricsData') {
    throw new Error(`--record-info-array-key must be data or lyricsData, got "${arrayKey}"`);
  }
  const route = values.route;
  if (route !== undefined && route !== 'legacy' && route !== 'jobs') throw new Error(`--route must be legacy or jobs, got "${route}"`);
  const shape = values['jobs-callback-shape'];
  if (shape !== undefined && shape !== 'market' && shape !== 'legacy' && shape !== 'alternate') {
    throw new Error(`--jobs-callback-shape must be market, legacy or alternate, got "${shape}"`);
  }
  if (values.account && (values['api-key'] || values['hmac-key'] !== undefined)) {
    throw new Error('--account replaces --api-key and --hmac-key: give each account its keys in --account name:apiKey[:hmacKey]');
  }
  const createMax = int('create-max');
  const createWindowMs = int('create-window-ms');
  return {
    port: int('port', CLI_DEFAULT_PORT),
    host: values.host,
    route,
    jobsCallbackShape: shape as JobsCallbackShape | undefined,
    apiKeys: values['api-key'],
    hmacKey: values['hmac-key'],
    accounts: values.account?.map(parseAccount),
    resultDelayMs: int('result-delay-ms'),
    callbackRetryDelayMs: int('callback-retry-delay-ms'),
    createLimit:
      createMax === undefined && createWindowMs === undefined ? undefined : { max: createMax ?? 20, windowMs: createWindowMs ?? 10000 },
    credits: int('credits'),
    recordInfoArrayKey: arrayKey,
    mix: values.mix === undefined ? undefined : parseMix(values.mix),
    seed: int('seed'),
    log: values.verbose ? (line) => console.log(line) : undefined,
  };
}

/** `drop=0.3,duplicate=0.2` */
function parseMix(text: string): Partial<SandboxMix> {
  const mix: Partial<SandboxMix> = {};
  for (const part of text.split(',').filter(Boolean)) {
    const [name, value] = part.split('=');
    const probability = Number(value);
    if (!(MIX_KEYS as readonly string[]).includes(name)) throw new Error(`--mix knows ${MIX_KEYS.join(', ')}, not "${name}"`);
    if (value === undefined || value.trim() === '' || !(probability >= 0 && probability <= 1)) {
      throw new Error(`--mix ${name} needs a probability from 0 to 1, got "${value ?? ''}"`);
    }
    mix[name as keyof SandboxMix] = probability;
  }
  return mix;
}

/**
 * `name:apiKey` or `name:apiKey:hmacKey` (the HMAC key is the rest, colons and all). The limits and credits are the
 * top-level flags'. A bad one is named by its name only: the rest are keys.
 */
function parseAccount(text: string): SandboxAccountOptions {
  const [name, apiKey, ...hmac] = text.split(':');
  const hmacKey = hmac.length > 0 ? hmac.join(':') : undefined;
  if (!name || !apiKey || hmacKey === '') {
    throw new Error(`--account "${name}" must be name:apiKey or name:apiKey:hmacKey, each part non-empty`);
  }
  return hmacKey === undefined ? { name, apiKey } : { name, apiKey, hmacKey };
}
