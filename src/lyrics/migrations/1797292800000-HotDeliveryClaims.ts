import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The relay counts its own claims per owner, so no statement reads lyrics_deliveries_claimed_idx any more; with it
 * gone a claim (lease_until, lease_token, attempt_count) changes no indexed column and can be a HOT update, and a
 * fill factor of 70 leaves room on each page for the claim's new row version (records still move rows between
 * index entries: they end the row's due time).
 */
export class HotDeliveryClaims1797292800000 implements MigrationInterface {
  name = 'HotDeliveryClaims1797292800000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."lyrics_deliveries_claimed_idx"`);
    await queryRunner.query(`ALTER TABLE "lyrics_deliveries" SET (fillfactor = 70)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "lyrics_deliveries" RESET (fillfactor)`);
    await queryRunner.query(
      `CREATE INDEX "lyrics_deliveries_claimed_idx" ON "lyrics_deliveries" ("consumer", "owner") WHERE lease_until IS NOT NULL`,
    );
  }
}
