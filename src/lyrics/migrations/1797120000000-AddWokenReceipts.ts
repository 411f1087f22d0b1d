import { MigrationInterface, QueryRunner } from 'typeorm';

/** The receipt outcome `woken`: an authenticated callback in a shape we cannot read, which made its task's check due at once. */
export class AddWokenReceipts1797120000000 implements MigrationInterface {
  name = 'AddWokenReceipts1797120000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "lyrics_callback_receipts" DROP CONSTRAINT "lyrics_callback_receipts_outcome_check"`);
    await queryRunner.query(`
      ALTER TABLE "lyrics_callback_receipts" ADD CONSTRAINT "lyrics_callback_receipts_outcome_check"
      CHECK (outcome IN ('applied', 'duplicate', 'already_final', 'unconfirmed', 'unstorable', 'unauthorized', 'malformed', 'mismatch', 'woken'))
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "lyrics_callback_receipts" WHERE outcome = 'woken'`);
    await queryRunner.query(`ALTER TABLE "lyrics_callback_receipts" DROP CONSTRAINT "lyrics_callback_receipts_outcome_check"`);
    await queryRunner.query(`
      ALTER TABLE "lyrics_callback_receipts" ADD CONSTRAINT "lyrics_callback_receipts_outcome_check"
      CHECK (outcome IN ('applied', 'duplicate', 'already_final', 'unconfirmed', 'unstorable', 'unauthorized', 'malformed', 'mismatch'))
    `);
  }
}
