import { assignAccounts } from './create-budgets';

const slots = (account: string, room: number, ...numbers: number[]) => numbers.map((slot) => ({ account, slot, room }));

describe('assignAccounts', () => {
  it('sends each create to the account with the most room left, so a burst evens the accounts out', () => {
    const free = [...slots('a', 5, 1, 2, 3, 4), ...slots('b', 2, 7, 8), ...slots('c', 4, 9, 10, 11, 12)];
    expect(assignAccounts(6, free)).toEqual([
      { account: 'a', slot: 1 },
      { account: 'a', slot: 2 }, // a: 4 left, c: 4 -> a is named first
      { account: 'c', slot: 9 },
      { account: 'a', slot: 3 },
      { account: 'c', slot: 10 },
      { account: 'a', slot: 4 }, // all three have 2 left: a is named first
    ]);
    expect(assignAccounts(8, free).filter((place) => place.account === 'b')).toEqual([{ account: 'b', slot: 7 }]);
  });

  it('uses only the slots locked for an account, least recently used first, and no more places than there are slots', () => {
    // b has room 9, but only two of its slots were free to lock (others hold the rest).
    const free = [...slots('a', 1, 4), ...slots('b', 9, 6, 5)];
    expect(assignAccounts(5, free)).toEqual([
      { account: 'b', slot: 6 },
      { account: 'b', slot: 5 },
      { account: 'a', slot: 4 },
    ]);
  });

  it('gives nothing when asked for nothing or when no slot is free', () => {
    expect(assignAccounts(0, slots('a', 3, 1))).toEqual([]);
    expect(assignAccounts(3, [])).toEqual([]);
  });
});
