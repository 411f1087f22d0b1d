import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `sent_at` records the moment a create attempt's request went out (written just before it is sent), so that a claim
 * orphaned before that moment is known never to have reached KIE and is simply sent again. The queue's expiry sweep
 * reads queued tasks oldest first. A callback whose result the database refused gets the receipt outcome `unstorable`.
 */
export class TrackCreateSends1796688000000 implements MigrationInterface {
  name = 'TrackCreateSends1796688000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "lyrics_tasks" ADD "sent_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`CREATE INDEX "lyrics_tasks_queued_created_idx" ON "lyrics_tasks" ("created_at") WHERE status = 'queued'`);
    await queryRunner.query(`ALTER TABLE "lyrics_callback_receipts" DROP CONSTRAINT "lyrics_callback_receipts_outcome_check"`);
    await queryRunner.query(`
      ALTER TABLE "lyrics_callback_receipts" ADD CONSTRAINT "lyrics_callback_receipts_outcome_check"
      CHECK (outcome IN ('applied', 'duplicate', 'already_final', 'unconfirmed', 'unstorable', 'unauthorized', 'malformed', 'mismatch'))
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "lyrics_callback_receipts" WHERE outcome = 'unstorable'`);
    await queryRunner.query(`ALTER TABLE "lyrics_callback_receipts" DROP CONSTRAINT "lyrics_callback_receipts_outcome_check"`);
    await queryRunner.query(`
      ALTER TABLE "lyrics_callback_receipts" ADD CONSTRAINT "lyrics_callback_receipts_outcome_check"
      CHECK (outcome IN ('applied', 'duplicate', 'already_final', 'unconfirmed', 'unauthorized', 'malformed', 'mismatch'))
    `);
    await queryRunner.query(`DROP INDEX "public"."lyrics_tasks_queued_created_idx"`);
    await queryRunner.query(`ALTER TABLE "lyrics_tasks" DROP COLUMN "sent_at"`);
  }
}
