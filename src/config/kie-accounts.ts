import { KIE_ACCOUNT_NAME, KieAccountOptions } from '../lyrics';

/** Comma-separated `name:value` entries, in order; problems name the variable and the entry's position, never its value. */
function namedEntries(variable: string, value: string): { entries: { name: string; value: string }[]; problems: string[] } {
  const entries: { name: string; value: string }[] = [];
  const problems: string[] = [];
  value.split(',').forEach((raw, index) => {
    const entry = raw.trim();
    const colon = entry.indexOf(':');
    const name = colon > 0 ? entry.slice(0, colon) : '';
    const secret = entry.slice(colon + 1).trim();
    if (!KIE_ACCOUNT_NAME.test(name) || secret === '' || /\s/.test(secret)) {
      problems.push(
        `${variable} entry ${index + 1} must be name:value (a name of 1 to 32 lower-case letters, digits, _ or -; a value without spaces)`,
      );
      return;
    }
    if (entries.some((other) => other.name === name)) problems.push(`${variable} names the account ${name} twice`);
    else entries.push({ name, value: secret });
  });
  return { entries, problems };
}

/**
 * Reads KIE_API_KEYS (`name:key,...`) and KIE_WEBHOOK_HMAC_KEYS (`name:hmacKey,...`, for some or all of those
 * accounts) into the module's kie.accounts. Problems never echo a key.
 */
export function parseKieAccounts(apiKeys: string, hmacKeys: string | undefined): { accounts: KieAccountOptions[]; problems: string[] } {
  const keys = namedEntries('KIE_API_KEYS', apiKeys);
  const hmacs = hmacKeys === undefined ? { entries: [], problems: [] } : namedEntries('KIE_WEBHOOK_HMAC_KEYS', hmacKeys);
  const problems = [...keys.problems, ...hmacs.problems];
  const seen = new Map<string, string>();
  for (const { name, value } of keys.entries) {
    const first = seen.get(value);
    if (first !== undefined) problems.push(`KIE_API_KEYS gives the accounts ${first} and ${name} the same key`);
    seen.set(value, first ?? name);
  }
  for (const { name } of hmacs.entries) {
    if (!keys.entries.some((account) => account.name === name)) {
      problems.push(`KIE_WEBHOOK_HMAC_KEYS names the account ${name}, which KIE_API_KEYS does not`);
    }
  }
  const accounts = keys.entries.map(({ name, value }) => ({
    name,
    apiKey: value,
    webhookHmacKey: hmacs.entries.find((hmac) => hmac.name === name)?.value,
  }));
  return { accounts, problems };
}
