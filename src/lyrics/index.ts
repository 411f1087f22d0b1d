/** The public surface of the lyrics module, for host apps (the package's entry point). */
export { LyricsModule } from './lyrics.module';
export { LyricsModuleExtras } from './lyrics.tokens';
export {
  DEFAULT_KIE_ACCOUNT,
  DEFAULT_WEBHOOK_RETRY_MS,
  KIE_ACCOUNT_NAME,
  KieAccountOptions,
  LyricsModuleOptions,
  LyricsOptionsError,
  LyricsTuningOptions,
  OwnerResolver,
  WebhookOptions,
} from './lyrics.options';
export {
  checkLyricsSettings,
  LYRICS_SETTING_NAMES,
  LYRICS_SETTING_TABLE,
  LyricsOutsideValue,
  LyricsSettingName,
  LyricsSettingReference,
  LyricsSettingSpec,
  lyricsSettingSpec,
} from './lyrics-settings';
export {
  LyricsService,
  LyricsTaskNotFoundError,
  LyricsWaitTimeoutError,
  LyricsQuotaExceededError,
  ListLyricsInput,
  SubmitLyricsInput,
  SubmitLyricsResult,
} from './lyrics.service';
export { LYRICS_CANCELLED, LYRICS_FAILED, LYRICS_SUCCEEDED, LyricsFinalEvent } from './lyrics.events';
export { LyricsTaskDto, LyricsTaskErrorDto, LyricsTaskPageDto, LyricsVariantDto } from './dto/lyrics-task.dto';
export { LyricsEventDto, LyricsEventPageDto } from './dto/lyrics-event.dto';
export { LyricsDeliveryAttemptDto, LyricsDeliveryDto, LyricsDeliveryListDto } from './dto/lyrics-delivery.dto';
export { WebhookSecretDto } from './dto/webhook-secret.dto';
export { ApiErrorDto } from './dto/api-error.dto';
export { LyricsCallbackReceiptDto, LyricsCallbackReceiptListDto } from './dto/lyrics-callback-receipt.dto';
export { TASK_ERROR_CODES, TASK_STATUSES, TaskErrorCode, TaskStatus } from './entities/lyrics-task.entity';
export { LYRICS_ENTITIES } from './entities';
export { LYRICS_MIGRATIONS } from './migrations';
export { LyricsMetrics } from './lyrics.metrics';
export { KieAccountsHealth, KieAccountState } from './accounts/kie-accounts-health';
export { KIE_API_ROUTES, KieApiRoute, KieCreditsOutcome } from './kie/kie.types';
export { callbackBodyParser, CALLBACK_BODY_LIMIT_BYTES } from './callback/callback-body-parser';
export { CALLBACK_ROUTE, LYRICS_ROUTE } from './lyrics-routes';
