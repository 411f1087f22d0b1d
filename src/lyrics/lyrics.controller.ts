import {
  Controller,
  Get,
  HttpCode,
  HttpException,
  HttpStatus,
  ConflictException,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Res,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConflictResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { Response } from 'express';
import { ApiErrorDto } from './dto/api-error.dto';
import { CreateLyricsDto } from './dto/create-lyrics.dto';
import { GetLyricsQueryDto } from './dto/get-lyrics-query.dto';
import { ListEventsQueryDto } from './dto/list-events-query.dto';
import { LyricsEventPageDto } from './dto/lyrics-event.dto';
import { LyricsDeliveryListDto } from './dto/lyrics-delivery.dto';
import { WebhookSecretDto } from './dto/webhook-secret.dto';
import { LyricsCallbackReceiptListDto } from './dto/lyrics-callback-receipt.dto';
import { ListLyricsQueryDto } from './dto/list-lyrics-query.dto';
import { LyricsTaskDto, LyricsTaskPageDto } from './dto/lyrics-task.dto';
import { IDEMPOTENCY_KEY_HEADER, IdempotencyKey } from './idempotency-key.decorator';
import { LyricsClientGuard } from './lyrics-client.guard';
import { LYRICS_ROUTE } from './lyrics-routes';
import { LyricsQuotaExceededError, LyricsService } from './lyrics.service';
import { RequestOwner } from './request-owner';
import { PromptLengthPipe } from './prompt-length.pipe';
import { CreateLyricsBodyPipe, LyricsValidationPipe, SubmissionBody } from './lyrics-validation.pipe';

@ApiTags('lyrics')
@ApiBearerAuth()
@ApiUnauthorizedResponse({
  type: ApiErrorDto,
  description: 'No client key, or one the service does not know (or, in a host app, no owner)',
})
@ApiTooManyRequestsResponse({ type: ApiErrorDto, description: 'Too many requests from this client (throttled); see Retry-After' })
@Controller(LYRICS_ROUTE)
@UseGuards(LyricsClientGuard)
@UsePipes(new LyricsValidationPipe())
export class LyricsController {
  constructor(private readonly lyrics: LyricsService) {}

  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Submit a prompt; the task is sent to KIE in the background' })
  @ApiBody({ type: CreateLyricsDto })
  @ApiHeader({
    name: IDEMPOTENCY_KEY_HEADER,
    required: false,
    description: 'Makes retries safe: the same key with the same body returns the same task (200); with another body, 409.',
    schema: { type: 'string', minLength: 1, maxLength: 255 },
  })
  @ApiAcceptedResponse({ type: LyricsTaskDto, description: 'The new task, queued' })
  @ApiOkResponse({ type: LyricsTaskDto, description: 'A replay of an earlier request with the same Idempotency-Key' })
  @ApiBadRequestResponse({ type: ApiErrorDto, description: 'Invalid body or header; the message names the field and the reason' })
  @ApiConflictResponse({ type: ApiErrorDto, description: 'The Idempotency-Key was used with a different request' })
  @ApiTooManyRequestsResponse({
    type: ApiErrorDto,
    description: 'Throttled, or the caller already has LYRICS_MAX_ACTIVE_PER_OWNER unfinished tasks (nothing stored); see Retry-After',
  })
  async create(
    @RequestOwner() owner: string,
    @SubmissionBody(CreateLyricsBodyPipe, PromptLengthPipe) body: CreateLyricsDto,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<LyricsTaskDto> {
    try {
      const { prompt, metadata, webhookUrl } = body;
      const { task, created } = await this.lyrics.submit({ owner, prompt, metadata, webhookUrl, idempotencyKey });
      if (!created) response.status(HttpStatus.OK);
      return task;
    } catch (error) {
      if (!(error instanceof LyricsQuotaExceededError)) throw error;
      response.setHeader('Retry-After', String(error.retryAfterSeconds));
      throw new HttpException(
        { statusCode: 429, error: 'Too Many Requests', message: `At most ${error.maxActive} unfinished tasks per client` },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
  }

  // Before ':id', which would take "events" for an id.
  @Get('events')
  @ApiOperation({
    summary: "The caller's final events (lyrics.succeeded, lyrics.failed), oldest first: the same objects a webhook receives",
  })
  @ApiOkResponse({ type: LyricsEventPageDto })
  @ApiBadRequestResponse({ type: ApiErrorDto, description: 'Invalid after (a cursor) or limit (1..100)' })
  events(@RequestOwner() owner: string, @Query() query: ListEventsQueryDto): Promise<LyricsEventPageDto> {
    return this.lyrics.events({ owner, after: query.after, limit: query.limit });
  }

  @Get('webhook-secret')
  @ApiOperation({ summary: "The caller's webhook signing secret (made on first need)" })
  @ApiOkResponse({ type: WebhookSecretDto })
  async webhookSecret(@RequestOwner() owner: string): Promise<WebhookSecretDto> {
    return { secret: await this.lyrics.webhookSecret(owner) };
  }

  @Post('webhook-secret/rotate')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Replace the webhook secret; for LYRICS_WEBHOOK_SECRET_OVERLAP_S deliveries carry both signatures',
  })
  @ApiOkResponse({ type: WebhookSecretDto, description: 'The new secret' })
  async rotateWebhookSecret(@RequestOwner() owner: string): Promise<WebhookSecretDto> {
    return { secret: await this.lyrics.rotateWebhookSecret(owner) };
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: "The task's webhook deliveries, every attempt included" })
  @ApiOkResponse({ type: LyricsDeliveryListDto })
  @ApiBadRequestResponse({ type: ApiErrorDto, description: 'The id is not a UUID' })
  @ApiNotFoundResponse({ type: ApiErrorDto, description: "No such task (another client's task looks the same)" })
  async deliveries(@RequestOwner() owner: string, @Param('id', new ParseUUIDPipe()) id: string): Promise<LyricsDeliveryListDto> {
    const deliveries = await this.lyrics.webhookDeliveries(owner, id);
    if (!deliveries) throw new NotFoundException(`Lyrics task ${id} not found`);
    return deliveries;
  }

  @Post(':id/cancel')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Cancel a queued task that no dispatcher holds yet (nothing was sent for it)' })
  @ApiOkResponse({ type: LyricsTaskDto, description: 'The task, now cancelled' })
  @ApiBadRequestResponse({ type: ApiErrorDto, description: 'The id is not a UUID' })
  @ApiNotFoundResponse({ type: ApiErrorDto, description: "No such task (another client's task looks the same)" })
  @ApiConflictResponse({ type: ApiErrorDto, description: 'The task is being sent, was sent, or is final: unchanged' })
  async cancel(@RequestOwner() owner: string, @Param('id', new ParseUUIDPipe()) id: string): Promise<LyricsTaskDto> {
    const outcome = await this.lyrics.cancel(owner, id);
    if (!outcome) throw new NotFoundException(`Lyrics task ${id} not found`);
    if (!outcome.cancelled) {
      throw new ConflictException(`Lyrics task ${id} is ${outcome.task.status}: only a queued task not yet being sent can be cancelled`);
    }
    return outcome.task;
  }

  @Get(':id/callbacks')
  @ApiOperation({ summary: 'The callbacks KIE sent about the task: when, with what outcome, from where (no bodies)' })
  @ApiOkResponse({ type: LyricsCallbackReceiptListDto })
  @ApiBadRequestResponse({ type: ApiErrorDto, description: 'The id is not a UUID' })
  @ApiNotFoundResponse({ type: ApiErrorDto, description: "No such task (another client's task looks the same)" })
  async callbacks(@RequestOwner() owner: string, @Param('id', new ParseUUIDPipe()) id: string): Promise<LyricsCallbackReceiptListDto> {
    const receipts = await this.lyrics.callbackReceipts(owner, id);
    if (!receipts) throw new NotFoundException(`Lyrics task ${id} not found`);
    return receipts;
  }

  @Get(':id')
  @ApiOperation({ summary: 'Read one task; with waitSeconds, wait until it is final (a long poll)' })
  @ApiOkResponse({ type: LyricsTaskDto })
  @ApiBadRequestResponse({ type: ApiErrorDto, description: 'The id is not a UUID, or waitSeconds is not 0..60' })
  @ApiNotFoundResponse({ type: ApiErrorDto, description: "No such task (another client's task looks the same)" })
  async get(
    @RequestOwner() owner: string,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query() query: GetLyricsQueryDto,
  ): Promise<LyricsTaskDto> {
    const task = await this.lyrics.getWhenFinal(owner, id, query.waitSeconds);
    if (!task) throw new NotFoundException(`Lyrics task ${id} not found`);
    return task;
  }

  @Get()
  @ApiOperation({ summary: "List the caller's tasks, newest first, one keyset page at a time" })
  @ApiOkResponse({ type: LyricsTaskPageDto })
  @ApiBadRequestResponse({ type: ApiErrorDto, description: 'Invalid status, limit (1..100) or cursor' })
  list(@RequestOwner() owner: string, @Query() query: ListLyricsQueryDto): Promise<LyricsTaskPageDto> {
    return this.lyrics.list({ owner, status: query.status, limit: query.limit, cursor: query.cursor });
  }
}
