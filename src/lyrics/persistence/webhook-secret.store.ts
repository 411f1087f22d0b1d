import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { LyricsDatabase } from './lyrics-database';
import * as sql from './webhook-secrets.sql';
import { WebhookSecrets } from './webhook-secrets.sql';

/** A new signing secret, as Standard Webhooks spells one: whsec_ and the base64 of 32 random bytes. */
const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** lyrics_webhook_secrets: each owner's signing secrets, made on first need. */
@Injectable()
export class WebhookSecretStore {
  constructor(private readonly db: LyricsDatabase) {}

  async secretsOf(owner: string): Promise<WebhookSecrets> {
    // The second read sees the row of a concurrent first use that made the first one see none (see webhookSecrets).
    const read = async () => (await this.db.rows<WebhookSecrets>(sql.webhookSecrets({ owner, candidate: newSecret() })))[0];
    const secrets = (await read()) ?? (await read());
    if (!secrets) throw new Error('The webhook secret could not be read');
    return secrets;
  }

  async rotate(owner: string, overlapSeconds: number): Promise<string> {
    const [row] = await this.db.rows<{ secret: string }>(sql.rotateWebhookSecret({ owner, secret: newSecret(), overlapSeconds }));
    return row.secret;
  }
}
