import { SandboxAccounts } from './sandbox-accounts';
import { resolveSandboxOptions } from './sandbox-options';

const twoAccounts = () =>
  new SandboxAccounts(
    resolveSandboxOptions({
      credits: 3,
      accounts: [
        { name: 'a', apiKey: 'key-a', hmacKey: 'hmac-a' },
        { name: 'b', apiKey: 'key-b', createLimit: { max: 1, windowMs: 100 }, credits: 1 },
      ],
    }),
  );

describe('SandboxAccounts', () => {
  it("selects an account by its apiKey only, and signs with that account's hmacKey", () => {
    const accounts = twoAccounts();
    expect(accounts.select('key-a')?.name).toBe('a');
    expect(accounts.select('key-b')?.name).toBe('b');
    expect(accounts.select('key-c')).toBeUndefined();
    expect(accounts.hmacKeyOf('a')).toBe('hmac-a');
    expect(accounts.hmacKeyOf('b')).toBeUndefined();
  });

  it('lists every account without its keys', () => {
    expect(twoAccounts().list()).toEqual([
      { name: 'a', credits: 3, subKeyLimited: false, createLimit: { max: 20, windowMs: 10000 } },
      { name: 'b', credits: 1, subKeyLimited: false, createLimit: { max: 1, windowMs: 100 } },
    ]);
  });

  it("keeps a window per account, with the account's limit", () => {
    const accounts = twoAccounts();
    const b = accounts.select('key-b')!;
    accounts.windowOf(b, 'key-b').add(0);
    expect(accounts.windowOf(b, 'key-b').hasRoom(50)).toBe(false);
    expect(accounts.windowOf(accounts.select('key-a')!, 'key-a').hasRoom(50)).toBe(true);
  });

  it('is one account named default without accounts, selected by any of apiKeys, or by any key when there are none', () => {
    const pool = new SandboxAccounts(resolveSandboxOptions({ apiKeys: ['k1', 'k2'], hmacKey: 'h', credits: 5 }));
    expect(pool.select('k1')?.name).toBe('default');
    expect(pool.select('k2')).toBe(pool.select('k1'));
    expect(pool.select('k3')).toBeUndefined();
    expect(pool.hmacKeyOf('default')).toBe('h');
    expect(pool.list()).toEqual([{ name: 'default', credits: 5, subKeyLimited: false, createLimit: { max: 20, windowMs: 10000 } }]);
    expect(new SandboxAccounts(resolveSandboxOptions({})).select('anything')?.name).toBe('default');
  });

  it('sets credits and the sub-key limit, and reset() restores both and empties the windows', () => {
    const accounts = twoAccounts();
    expect(accounts.set('a', { credits: 0 })).toMatchObject({ name: 'a', credits: 0, subKeyLimited: false });
    expect(accounts.set('a', { subKeyLimited: true })).toMatchObject({ credits: 0, subKeyLimited: true });
    const b = accounts.select('key-b')!;
    accounts.windowOf(b, 'key-b').add(0);
    accounts.reset();
    expect(accounts.list().map(({ credits, subKeyLimited }) => [credits, subKeyLimited])).toEqual([
      [3, false],
      [1, false],
    ]);
    expect(accounts.windowOf(b, 'key-b').hasRoom(50)).toBe(true);
  });

  it.each([
    ['c', {}, 'no sandbox account is named "c" (there are a, b)'],
    ['a', { credits: -1 }, 'credits must be an integer of at least 0, got -1'],
    ['a', { credits: 1.5 }, 'credits must be an integer of at least 0, got 1.5'],
    ['a', { credits: '5' }, 'credits must be an integer of at least 0, got "5"'],
    ['a', { subKeyLimited: 'yes' }, 'subKeyLimited must be true or false, got "yes"'],
    ['a', { credit: 5 }, 'an account change has only credits and subKeyLimited, not credit'],
    ['a', [], 'an account change must be an object with credits and/or subKeyLimited'],
    ['a', null, 'an account change must be an object with credits and/or subKeyLimited'],
  ])('refuses to set %s to %j', (name, change, message) => {
    const accounts = twoAccounts();
    expect(() => accounts.set(name, change as never)).toThrow(expect.objectContaining({ name: 'RangeError', message }));
    expect(accounts.list()[0]).toMatchObject({ credits: 3, subKeyLimited: false });
  });
});
