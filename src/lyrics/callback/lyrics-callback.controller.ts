import { BadRequestException, Body, Controller, Headers, HttpCode, Ip, Param, Post, UnauthorizedException } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiProperty,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { ApiErrorDto } from '../dto/api-error.dto';
import { CALLBACK_ROUTE } from '../lyrics-routes';
import { LyricsCallbackService } from './lyrics-callback.service';

class CallbackAcknowledgementDto {
  @ApiProperty({ example: 'received' })
  status: 'received';

  @ApiProperty({ enum: ['applied', 'duplicate', 'already_final', 'unconfirmed', 'unstorable', 'woken'] })
  outcome: string;
}

/**
 * KIE's webhook. The URL (built by the dispatcher) carries our task id and its secret token; KIE posts here when a
 * task ends. Thin by design: LyricsCallbackService decides. Never meant for clients of the API.
 */
@ApiTags('kie-webhook')
@Controller(CALLBACK_ROUTE)
export class LyricsCallbackController {
  constructor(private readonly callbacks: LyricsCallbackService) {}

  @Post(':taskId/:token')
  @HttpCode(200)
  @ApiOperation({
    summary: "KIE's lyrics callback (called by KIE, not by clients)",
    description:
      'The callBackUrl given to KIE for one task. Authenticated by the token in the path and, when KIE_WEBHOOK_HMAC_KEY is set, ' +
      'by X-Webhook-Timestamp and X-Webhook-Signature. Idempotent: a repeated or late callback answers 200 and changes nothing.',
  })
  @ApiBody({
    description:
      "KIE's callback payload: the legacy shape (snake_case or camelCase) or the Jobs shape; an unknown shape wakes a record-info check",
    schema: { type: 'object' },
  })
  @ApiOkResponse({ type: CallbackAcknowledgementDto })
  @ApiBadRequestResponse({ type: ApiErrorDto, description: 'Malformed body' })
  @ApiUnauthorizedResponse({ type: ApiErrorDto, description: "Wrong token or signature, or the body's task id is not this URL's task" })
  @ApiPayloadTooLargeResponse({ type: ApiErrorDto, description: 'Body over 256 KiB' })
  async receive(
    @Param('taskId') taskId: string,
    @Param('token') token: string,
    @Body() body: unknown,
    @Headers('x-webhook-timestamp') timestamp: string | undefined,
    @Headers('x-webhook-signature') signature: string | undefined,
    @Ip() remoteAddress: string | undefined,
  ): Promise<CallbackAcknowledgementDto> {
    const answer = await this.callbacks.handle({ taskId, token, body, timestamp, signature, remoteAddress });
    if (answer.status === 401) throw new UnauthorizedException(answer.message);
    if (answer.status === 400) throw new BadRequestException(answer.message);
    return { status: 'received', outcome: answer.outcome };
  }
}
