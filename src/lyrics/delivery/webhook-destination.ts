import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface DestinationPolicy {
  /**
   * Production: only https URLs, and the host must resolve only to public unicast addresses, unless listed in
   * allowedHosts. Development: http and loopback/private allowed.
   */
  requirePublic: boolean;
  /** Lower-case host names (no port) exempt from the public-address check (still https-only when requirePublic). */
  allowedHosts: ReadonlySet<string>;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) => {
  const addresses = await lookup(hostname, { all: true, verbatim: true });
  return addresses.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

export type DestinationCheck = { ok: true; address: ResolvedAddress } | { ok: false; reason: string };

/**
 * Resolves once and checks EVERY address (an IP literal host is checked as is, not resolved); returns the address
 * to connect to (the first). Never rejects: a failed lookup is a refusal.
 */
export async function checkDestination(url: URL, policy: DestinationPolicy, resolve: Resolver = systemResolver): Promise<DestinationCheck> {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: 'webhookUrl must be an http(s) URL' };
  if (policy.requirePublic && url.protocol !== 'https:') return { ok: false, reason: 'webhookUrl must be https in production' };

  // WHATWG URL has already normalised IPv4 literals (0x7f.1 is 127.0.0.1) and bracketed IPv6 ones.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const literal = isIP(host);
  // A trailing dot names the same host, so it must not dodge (or miss) the allow-list.
  const checkPublic = policy.requirePublic && !policy.allowedHosts.has(host.replace(/\.$/, ''));
  if (literal !== 0) {
    if (checkPublic && !isPublic(host)) return { ok: false, reason: `${host} is not a public address` };
    return { ok: true, address: { address: host, family: literal === 6 ? 6 : 4 } };
  }

  let addresses: ResolvedAddress[];
  try {
    addresses = await resolve(host);
  } catch (error) {
    return { ok: false, reason: `cannot resolve ${host} (${(error as NodeJS.ErrnoException).code ?? 'lookup failed'})` };
  }
  if (addresses.length === 0) return { ok: false, reason: `cannot resolve ${host} (no addresses)` };
  // Every answer, not only the one we connect to: a name with any inside address points inside, and the order of
  // the answers is the name owner's to choose.
  const blocked = checkPublic ? addresses.find(({ address }) => !isPublic(address)) : undefined;
  if (blocked) return { ok: false, reason: `${host} resolves to a non-public address (${blocked.address})` };
  return { ok: true, address: addresses[0] };
}

/**
 * Only ipaddr.js's plain 'unicast': every special range (loopback, private, link-local, CGNAT, reserved, 6to4,
 * Teredo, NAT64, ...) is refused, and an IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
 */
function isPublic(address: string): boolean {
  try {
    return ipaddr.process(address).range() === 'unicast';
  } catch {
    return false; // not an address ipaddr.js can read, so not one we can vouch for
  }
}
