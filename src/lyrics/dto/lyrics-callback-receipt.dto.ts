import { ApiProperty } from '@nestjs/swagger';
import { RECEIPT_OUTCOMES, ReceiptOutcome } from '../entities/lyrics-callback-receipt.entity';

/** One callback KIE sent about the task (its body stays with us). */
export class LyricsCallbackReceiptDto {
  @ApiProperty({ type: String, format: 'date-time' })
  receivedAt: string;

  @ApiProperty({
    enum: RECEIPT_OUTCOMES,
    description:
      'applied: its result was stored; duplicate / already_final: it changed nothing; unauthorized: the signature was refused; malformed, mismatch: refused; unconfirmed: record-info did not confirm it; unstorable: its result could not be stored; woken: a shape we do not know, so record-info was checked at once.',
  })
  outcome: ReceiptOutcome;

  @ApiProperty({ type: String, nullable: true, description: 'The sender, as this service saw it.' })
  remoteAddress: string | null;
}

export class LyricsCallbackReceiptListDto {
  @ApiProperty({ type: [LyricsCallbackReceiptDto], description: 'Oldest first.' })
  items: LyricsCallbackReceiptDto[];
}
