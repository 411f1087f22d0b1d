import { LyricsCallbackReceiptEntity } from './lyrics-callback-receipt.entity';
import { LyricsDeliveryEntity } from './lyrics-delivery.entity';
import { LyricsEventEntity } from './lyrics-event.entity';
import { LyricsKieAccountEntity } from './lyrics-kie-account.entity';
import { LyricsOwnerTurnEntity } from './lyrics-owner-turn.entity';
import { LyricsRateSlotEntity } from './lyrics-rate-slot.entity';
import { LyricsTaskEntity } from './lyrics-task.entity';
import { LyricsVariantEntity } from './lyrics-variant.entity';
import { LyricsWebhookSecretEntity } from './lyrics-webhook-secret.entity';

/** Every entity of the lyrics module, for a host's TypeORM connection (or `autoLoadEntities`). */
export const LYRICS_ENTITIES = [
  LyricsTaskEntity,
  LyricsVariantEntity,
  LyricsRateSlotEntity,
  LyricsCallbackReceiptEntity,
  LyricsOwnerTurnEntity,
  LyricsEventEntity,
  LyricsDeliveryEntity,
  LyricsWebhookSecretEntity,
  LyricsKieAccountEntity,
];
