import { HttpAnswer, parseHttpDate, retryAfterMs } from './kie-http';

const OCT_21 = Date.UTC(2015, 9, 21, 7, 28, 0);

describe('parseHttpDate', () => {
  it.each([
    ['IMF-fixdate', 'Wed, 21 Oct 2015 07:28:00 GMT'],
    ['RFC 850', 'Wednesday, 21-Oct-15 07:28:00 GMT'],
    ['asctime', 'Wed Oct 21 07:28:00 2015'],
  ])('reads the %s form', (_, text) => {
    expect(parseHttpDate(text)).toBe(OCT_21);
  });

  it('reads a one-digit asctime day padded with a space', () => {
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
  });

  it('takes an RFC 850 year more than 50 years ahead as the latest past year with those digits', () => {
    const thisYear = new Date().getUTCFullYear();
    const farAhead = (thisYear + 60) % 100;
    const year = new Date(parseHttpDate(`Monday, 01-Jan-${String(farAhead).padStart(2, '0')} 00:00:00 GMT`)!).getUTCFullYear();
    expect(year).toBe(thisYear - 40);
  });

  it.each([
    ['a time zone other than GMT', 'Wed, 21 Oct 2015 07:28:00 +0200'],
    ['lower case', 'wed, 21 oct 2015 07:28:00 gmt'],
    ['31 February', 'Sat, 31 Feb 2015 07:28:00 GMT'],
    ['hour 24', 'Wed, 21 Oct 2015 24:00:00 GMT'],
    ['an ISO date', '2015-10-21T07:28:00Z'],
    ['delta-seconds', '120'],
    ['nothing', ''],
  ])('refuses %s', (_, text) => {
    expect(parseHttpDate(text)).toBeUndefined();
  });
});

describe('retryAfterMs', () => {
  const answer = (headers: HttpAnswer['headers']): HttpAnswer => ({ status: 429, headers, body: '' });

  it('reads delta-seconds, with surrounding spaces', () => {
    expect(retryAfterMs(answer({ 'retry-after': ' 12 ' }))).toBe(12000);
    expect(retryAfterMs(answer({ 'retry-after': '0' }))).toBe(0);
  });

  it("measures a date against the answer's Date, else against now, never below 0", () => {
    const date = 'Wed, 21 Oct 2015 07:28:00 GMT';
    expect(retryAfterMs(answer({ 'retry-after': 'Wed, 21 Oct 2015 07:28:45 GMT', date }), 0)).toBe(45000);
    expect(retryAfterMs(answer({ 'retry-after': 'Wed, 21 Oct 2015 07:28:45 GMT' }), OCT_21 + 5000)).toBe(40000);
    expect(retryAfterMs(answer({ 'retry-after': date, date: 'Wed, 21 Oct 2015 07:29:00 GMT' }))).toBe(0);
    // An unreadable Date header is as good as none.
    expect(retryAfterMs(answer({ 'retry-after': 'Wed, 21 Oct 2015 07:28:10 GMT', date: 'yesterday' }), OCT_21)).toBe(10000);
  });

  it.each([
    ['absent', {}],
    ['empty', { 'retry-after': '' }],
    ['negative', { 'retry-after': '-5' }],
    ['fractional', { 'retry-after': '1.5' }],
    ['words', { 'retry-after': 'later' }],
  ])('is undefined when %s', (_, headers) => {
    expect(retryAfterMs(answer(headers))).toBeUndefined();
  });
});
