import { KieSandboxOptions, resolveSandboxOptions } from './sandbox-options';

describe('resolveSandboxOptions: accounts', () => {
  it('leaves accounts undefined without the option, as one account of apiKeys and hmacKey', () => {
    const resolved = resolveSandboxOptions({ apiKeys: ['k'], hmacKey: 'h' });
    expect(resolved.accounts).toBeUndefined();
    expect(resolved).toMatchObject({ apiKeys: new Set(['k']), hmacKey: 'h', createLimit: { max: 20, windowMs: 10000 }, credits: 10000 });
  });

  it('gives each account the top-level createLimit and credits unless it has its own', () => {
    const resolved = resolveSandboxOptions({
      createLimit: { max: 5, windowMs: 1000 },
      credits: 7,
      accounts: [
        { name: 'a', apiKey: 'key-a', hmacKey: 'hmac-a' },
        { name: 'b', apiKey: 'key-b', createLimit: { max: 2, windowMs: 500 }, credits: 0 },
      ],
    });
    expect(resolved.accounts).toEqual([
      { name: 'a', apiKey: 'key-a', hmacKey: 'hmac-a', createLimit: { max: 5, windowMs: 1000 }, credits: 7 },
      { name: 'b', apiKey: 'key-b', hmacKey: undefined, createLimit: { max: 2, windowMs: 500 }, credits: 0 },
    ]);
  });

  it('defaults the accounts to 20 creates per 10 s and 10000 credits, as the top level', () => {
    expect(resolveSandboxOptions({ accounts: [{ name: 'a', apiKey: 'k' }] }).accounts).toEqual([
      { name: 'a', apiKey: 'k', hmacKey: undefined, createLimit: { max: 20, windowMs: 10000 }, credits: 10000 },
    ]);
  });

  const account = (name: string, apiKey: string) => ({ name, apiKey });
  it.each<[string, KieSandboxOptions, string]>([
    ['apiKeys beside accounts', { apiKeys: ['k'], accounts: [account('a', 'k')] }, 'accounts replaces apiKeys and hmacKey'],
    ['hmacKey beside accounts', { hmacKey: 'h', accounts: [account('a', 'k')] }, 'accounts replaces apiKeys and hmacKey'],
    ['no accounts', { accounts: [] }, 'accounts must list at least one account'],
    ['an empty name', { accounts: [account('', 'k')] }, 'accounts[0].name must be a non-empty string'],
    ['no name', { accounts: [{ apiKey: 'k' } as never] }, 'accounts[0].name must be a non-empty string'],
    ['a repeated name', { accounts: [account('a', 'k1'), account('a', 'k2')] }, 'accounts has two accounts named "a"'],
    ['an empty apiKey', { accounts: [account('a', 'k'), account('b', '')] }, 'accounts[1].apiKey must be a non-empty string'],
    ['a repeated apiKey', { accounts: [account('a', 'k'), account('b', 'k')] }, 'accounts[1].apiKey is also the apiKey of account "a"'],
    ['an empty hmacKey', { accounts: [{ ...account('a', 'k'), hmacKey: '' }] }, 'accounts[0].hmacKey must be a non-empty string'],
    [
      'a bad createLimit',
      { accounts: [{ ...account('a', 'k'), createLimit: { max: 0, windowMs: 10 } }] },
      'accounts[0].createLimit.max must be an integer of at least 1, got 0',
    ],
    [
      'negative credits',
      { accounts: [{ ...account('a', 'k'), credits: -1 }] },
      'accounts[0].credits must be an integer of at least 0, got -1',
    ],
  ])('refuses %s with a RangeError naming the option', (_, options, message) => {
    expect(() => resolveSandboxOptions(options)).toThrow(
      expect.objectContaining({ name: 'RangeError', message: expect.stringContaining(message) }),
    );
  });

  it('never prints a key in its errors', () => {
    expect(() => resolveSandboxOptions({ accounts: [account('a', 'secret-key'), account('b', 'secret-key')] })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('secret-key') }),
    );
  });
});
