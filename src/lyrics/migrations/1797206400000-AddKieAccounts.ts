import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Several KIE accounts: the accounts table (paused or not, and when a paused one's credits are next read), the account
 * each task was sent on, and a create budget per account (bucket `create:<account>`). The one budget there was becomes
 * the `default` account's, with its history, so a single-key service keeps its sliding window across the upgrade.
 */
export class AddKieAccounts1797206400000 implements MigrationInterface {
  name = 'AddKieAccounts1797206400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "lyrics_kie_accounts" (
        "name" varchar(32) NOT NULL,
        "paused_reason" varchar(16),
        "paused_at" timestamptz,
        "next_probe_at" timestamptz,
        CONSTRAINT "PK_7dd5d30b8ab04d10d220c1d0d64" PRIMARY KEY ("name"),
        CONSTRAINT "lyrics_kie_accounts_paused_reason_check" CHECK (paused_reason IN ('credits', 'sub_key_limit')),
        CONSTRAINT "lyrics_kie_accounts_pause_check"
          CHECK ((paused_reason IS NULL) = (paused_at IS NULL) AND (paused_reason IS NULL) = (next_probe_at IS NULL))
      )
    `);
    await queryRunner.query(`ALTER TABLE "lyrics_tasks" ADD "kie_account" varchar(32)`);
    await queryRunner.query(`ALTER TABLE "lyrics_rate_slots" ALTER COLUMN "bucket" TYPE varchar(64)`);
    await queryRunner.query(`UPDATE "lyrics_rate_slots" SET bucket = 'create:default' WHERE bucket = 'create'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "lyrics_rate_slots" WHERE bucket LIKE 'create:%' AND bucket <> 'create:default'`);
    await queryRunner.query(`UPDATE "lyrics_rate_slots" SET bucket = 'create' WHERE bucket = 'create:default'`);
    await queryRunner.query(`ALTER TABLE "lyrics_rate_slots" ALTER COLUMN "bucket" TYPE varchar(32)`);
    await queryRunner.query(`ALTER TABLE "lyrics_tasks" DROP COLUMN "kie_account"`);
    await queryRunner.query(`DROP TABLE "lyrics_kie_accounts"`);
  }
}
