import { parseSandboxArgs } from './sandbox-cli';

describe('parseSandboxArgs', () => {
  it('defaults to port 4010 and leaves the rest to the sandbox defaults', () => {
    expect(parseSandboxArgs([])).toEqual({ port: 4010 });
  });

  it('reads every flag', () => {
    const options = parseSandboxArgs([
      '--port=0',
      '--host',
      '0.0.0.0',
      '--route',
      'jobs',
      '--jobs-callback-shape',
      'alternate',
      '--api-key',
      'a',
      '--api-key',
      'b',
      '--hmac-key',
      'secret',
      '--result-delay-ms',
      '50',
      '--callback-retry-delay-ms',
      '5',
      '--create-max',
      '3',
      '--credits',
      '7',
      '--record-info-array-key',
      'lyricsData',
      '--mix',
      'drop=0.3,duplicate=0.2,camelCase=0.1,forged=0.05,failure=0.05,hang=0.02,gateway=0.01',
      '--seed',
      '9',
      '--verbose',
    ]);
    expect(options).toEqual({
      port: 0,
      host: '0.0.0.0',
      route: 'jobs',
      jobsCallbackShape: 'alternate',
      apiKeys: ['a', 'b'],
      hmacKey: 'secret',
      resultDelayMs: 50,
      callbackRetryDelayMs: 5,
      createLimit: { max: 3, windowMs: 10000 },
      credits: 7,
      recordInfoArrayKey: 'lyricsData',
      mix: { drop: 0.3, duplicate: 0.2, camelCase: 0.1, forged: 0.05, failure: 0.05, hang: 0.02, gateway: 0.01 },
      seed: 9,
      log: expect.any(Function),
    });
  });

  it('reads repeated --account flags as accounts, the top-level limits and credits theirs', () => {
    expect(parseSandboxArgs(['--account', 'a:key-a:hmac:a', '--account', 'b:key-b', '--create-max', '3', '--credits', '5'])).toEqual({
      port: 4010,
      accounts: [
        { name: 'a', apiKey: 'key-a', hmacKey: 'hmac:a' },
        { name: 'b', apiKey: 'key-b' },
      ],
      createLimit: { max: 3, windowMs: 10000 },
      credits: 5,
    });
  });

  it.each([
    [['--port=-1'], '--port must be a whole number, got "-1"'],
    [['--seed', '1.5'], '--seed must be a whole number, got "1.5"'],
    [['--route', 'market'], '--route must be legacy or jobs, got "market"'],
    [['--jobs-callback-shape', 'mixed'], '--jobs-callback-shape must be market, legacy or alternate, got "mixed"'],
    [['--record-info-array-key', 'items'], '--record-info-array-key must be data or lyricsData, got "items"'],
    [['--mix', 'chaos=0.5'], '--mix knows drop, duplicate, camelCase, forged, failure, hang, gateway, not "chaos"'],
    [['--mix', 'drop'], '--mix drop needs a probability from 0 to 1, got ""'],
    [['--mix', 'drop=1.5'], '--mix drop needs a probability from 0 to 1, got "1.5"'],
    [['--account', 'a'], '--account "a" must be name:apiKey or name:apiKey:hmacKey, each part non-empty'],
    [['--account', ':key'], '--account "" must be name:apiKey or name:apiKey:hmacKey, each part non-empty'],
    [['--account', 'a:'], '--account "a" must be name:apiKey or name:apiKey:hmacKey, each part non-empty'],
    [['--account', 'a:key:'], '--account "a" must be name:apiKey or name:apiKey:hmacKey, each part non-empty'],
    [
      ['--account', 'a:key', '--api-key', 'k'],
      '--account replaces --api-key and --hmac-key: give each account its keys in --account name:apiKey[:hmacKey]',
    ],
    [
      ['--account', 'a:key', '--hmac-key', 'h'],
      '--account replaces --api-key and --hmac-key: give each account its keys in --account name:apiKey[:hmacKey]',
    ],
    [['extra'], expect.stringContaining("Unexpected argument 'extra'")],
  ])('refuses %j', (args, message) => {
    expect(() => parseSandboxArgs(args as string[])).toThrow(expect.objectContaining({ message }));
  });
});
