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

  it("keeps a window per account, with the account's limit, until reset()", () => {
    const accounts = twoAccounts();
    const b = accounts.select('key-b')!;
    accounts.windowOf(b, 'key-b').add(0);
    expect(accounts.windowOf(b, 'key-b').hasRoom(50)).toBe(false);
    expect(accounts.windowOf(accounts.select('key-a')!, 'key-a').hasRoom(50)).toBe(true);
    b.credits = 0;
    accounts.reset();
    expect(accounts.windowOf(b, 'key-b').hasRoom(50)).toBe(true);
    expect(b.credits).toBe(1);
  });

  it('is one account named default without accounts, selected by any of apiKeys, or by any key when there are none', () => {
    const pool = new SandboxAccounts(resolveSandboxOptions({ apiKeys: ['k1', 'k2'], hmacKey: 'h', credits: 5 }));
    expect(pool.select('k1')?.name).toBe('default');
    expect(pool.select('k2')).toBe(pool.select('k1'));
    expect(pool.select('k3')).toBeUndefined();
    expect(pool.hmacKeyOf('default')).toBe('h');
    expect(pool.select('k1')).toMatchObject({ credits: 5, createLimit: { max: 20, windowMs: 10000 } });
    expect(new SandboxAccounts(resolveSandboxOptions({})).select('anything')?.name).toBe('default');
  });
});
