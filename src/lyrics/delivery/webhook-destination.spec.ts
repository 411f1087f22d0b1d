import { checkDestination, DestinationPolicy, ResolvedAddress, Resolver } from './webhook-destination';

const production: DestinationPolicy = { requirePublic: true, allowedHosts: new Set() };
const development: DestinationPolicy = { requirePublic: false, allowedHosts: new Set() };

const PUBLIC_V4: ResolvedAddress = { address: '93.184.216.34', family: 4 };
const PUBLIC_V6: ResolvedAddress = { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 };
const PRIVATE_V4: ResolvedAddress = { address: '10.0.0.7', family: 4 };

/** A resolver answering `addresses` for every name, and recording the names it was asked. */
function resolverOf(...addresses: ResolvedAddress[]) {
  return jest.fn<ReturnType<Resolver>, Parameters<Resolver>>(() => Promise.resolve(addresses));
}

describe('checkDestination', () => {
  it('refuses http in production, before resolving', async () => {
    const resolve = resolverOf(PUBLIC_V4);
    const check = await checkDestination(new URL('http://webhook.example/hook'), production, resolve);
    expect(check).toEqual({ ok: false, reason: 'webhookUrl must be https in production' });
    expect(resolve).not.toHaveBeenCalled();
  });

  it.each([production, development])('refuses a scheme other than http(s) (requirePublic %#)', async (policy) => {
    const check = await checkDestination(new URL('ftp://webhook.example/'), policy, resolverOf(PUBLIC_V4));
    expect(check).toEqual({ ok: false, reason: 'webhookUrl must be an http(s) URL' });
  });

  it.each([
    ['loopback', 'https://127.0.0.1/', '127.0.0.1'],
    ['loopback in hex (normalised by URL)', 'https://0x7f.1/', '127.0.0.1'],
    ['private', 'https://10.1.2.3/', '10.1.2.3'],
    ['link-local (cloud metadata)', 'https://169.254.169.254/', '169.254.169.254'],
    ['carrier-grade NAT', 'https://100.64.0.1/', '100.64.0.1'],
    ['unspecified', 'https://0.0.0.0/', '0.0.0.0'],
    ['multicast', 'https://224.0.0.1/', '224.0.0.1'],
    ['reserved (TEST-NET-1)', 'https://192.0.2.1/', '192.0.2.1'],
    ['IPv6 loopback', 'https://[::1]/', '::1'],
    ['IPv4-mapped loopback', 'https://[::ffff:127.0.0.1]/', '::ffff:7f00:1'],
    ['IPv6 unique local', 'https://[fd00::1]/', 'fd00::1'],
    ['IPv6 link-local', 'https://[fe80::1]/', 'fe80::1'],
    ['6to4', 'https://[2002:a00:7::1]/', '2002:a00:7::1'],
  ])('refuses a %s IP literal in production without resolving it', async (_kind, url, address) => {
    const resolve = resolverOf(PUBLIC_V4);
    const check = await checkDestination(new URL(url), production, resolve);
    expect(check).toEqual({ ok: false, reason: `${address} is not a public address` });
    expect(resolve).not.toHaveBeenCalled();
  });

  it.each([
    ['https://93.184.216.34/hook', PUBLIC_V4],
    ['https://[2606:2800:220:1:248:1893:25c8:1946]/hook', PUBLIC_V6],
  ])('accepts a public IP literal %s as the address to connect to', async (url, address) => {
    const resolve = resolverOf(PRIVATE_V4);
    expect(await checkDestination(new URL(url), production, resolve)).toEqual({ ok: true, address });
    expect(resolve).not.toHaveBeenCalled();
  });

  it('accepts a name resolving only to public addresses, connecting to the first', async () => {
    const resolve = resolverOf(PUBLIC_V6, PUBLIC_V4);
    const check = await checkDestination(new URL('https://webhook.example:8443/hook'), production, resolve);
    expect(check).toEqual({ ok: true, address: PUBLIC_V6 });
    expect(resolve).toHaveBeenCalledTimes(1);
    expect(resolve).toHaveBeenCalledWith('webhook.example');
  });

  it('refuses a name when any one of its addresses is not public', async () => {
    const check = await checkDestination(new URL('https://webhook.example/'), production, resolverOf(PUBLIC_V4, PRIVATE_V4));
    expect(check).toEqual({ ok: false, reason: 'webhook.example resolves to a non-public address (10.0.0.7)' });
  });

  it('judges an IPv4-mapped answer as the IPv4 address it carries', async () => {
    const check = await checkDestination(
      new URL('https://webhook.example/'),
      production,
      resolverOf({ address: '::ffff:10.0.0.7', family: 6 }),
    );
    expect(check).toEqual({ ok: false, reason: 'webhook.example resolves to a non-public address (::ffff:10.0.0.7)' });
  });

  it('refuses a name that cannot be resolved, naming the error code', async () => {
    const resolve: Resolver = () =>
      Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND webhook.example'), { code: 'ENOTFOUND' }));
    const check = await checkDestination(new URL('https://webhook.example/'), production, resolve);
    expect(check).toEqual({ ok: false, reason: 'cannot resolve webhook.example (ENOTFOUND)' });
  });

  it('refuses a name with no addresses', async () => {
    const check = await checkDestination(new URL('https://webhook.example/'), development, resolverOf());
    expect(check).toEqual({ ok: false, reason: 'cannot resolve webhook.example (no addresses)' });
  });

  it('exempts an allowed host from the public check, with or without a trailing dot', async () => {
    const policy: DestinationPolicy = { requirePublic: true, allowedHosts: new Set(['hooks.internal.example']) };
    for (const url of ['https://hooks.internal.example/', 'https://hooks.internal.example./']) {
      expect(await checkDestination(new URL(url), policy, resolverOf(PRIVATE_V4))).toEqual({ ok: true, address: PRIVATE_V4 });
    }
    const other = await checkDestination(new URL('https://other.internal.example/'), policy, resolverOf(PRIVATE_V4));
    expect(other).toEqual({ ok: false, reason: 'other.internal.example resolves to a non-public address (10.0.0.7)' });
  });

  it('keeps an allowed host https-only in production', async () => {
    const policy: DestinationPolicy = { requirePublic: true, allowedHosts: new Set(['hooks.internal.example']) };
    const check = await checkDestination(new URL('http://hooks.internal.example/'), policy, resolverOf(PRIVATE_V4));
    expect(check).toEqual({ ok: false, reason: 'webhookUrl must be https in production' });
  });

  it('allows http and loopback or private addresses in development', async () => {
    const loopback: ResolvedAddress = { address: '127.0.0.1', family: 4 };
    expect(await checkDestination(new URL('http://localhost:3000/'), development, resolverOf(loopback))).toEqual({
      ok: true,
      address: loopback,
    });
    expect(await checkDestination(new URL('http://10.0.0.7/'), development)).toEqual({ ok: true, address: PRIVATE_V4 });
  });

  it('resolves through the system resolver by default: localhost is not public', async () => {
    const check = await checkDestination(new URL('https://localhost/'), production);
    expect(check).toEqual({
      ok: false,
      reason: expect.stringMatching(/^localhost resolves to a non-public address \((127\.0\.0\.1|::1)\)$/),
    });
  });
});
