import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every task gets an owner (tasks from before owners existed belong to `anonymous`); the listing, quota and
 * idempotency indexes become per owner; the fair share of the create budget gets its index and its turns table.
 */
export class AddTaskOwners1796083200000 implements MigrationInterface {
  name = 'AddTaskOwners1796083200000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "lyrics_tasks" ADD "owner" character varying(255) NOT NULL DEFAULT 'anonymous'`);
    await queryRunner.query(`ALTER TABLE "lyrics_tasks" ALTER COLUMN "owner" DROP DEFAULT`);
    await queryRunner.query(`DROP INDEX "public"."lyrics_tasks_idempotency_key_key"`);
    await queryRunner.query(`DROP INDEX "public"."lyrics_tasks_status_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."lyrics_tasks_created_idx"`);
    await queryRunner.query(`
      CREATE INDEX "lyrics_tasks_idempotency_created_idx" ON "lyrics_tasks" ("created_at")
      WHERE idempotency_key IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "lyrics_tasks_owner_idempotency_key_key" ON "lyrics_tasks" ("owner", "idempotency_key")
      WHERE idempotency_key IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE INDEX "lyrics_tasks_owner_active_idx" ON "lyrics_tasks" ("owner")
      WHERE status IN ('queued', 'submitted')
    `);
    await queryRunner.query(`
      CREATE INDEX "lyrics_tasks_owner_status_created_idx" ON "lyrics_tasks" ("owner", "status", "created_at", "id")
    `);
    await queryRunner.query(`CREATE INDEX "lyrics_tasks_owner_created_idx" ON "lyrics_tasks" ("owner", "created_at", "id")`);
    await queryRunner.query(`
      CREATE INDEX "lyrics_tasks_owner_due_idx" ON "lyrics_tasks" ("owner", "next_attempt_at")
      WHERE status = 'queued' AND lease_until IS NULL
    `);
    await queryRunner.query(`
      CREATE TABLE "lyrics_owner_turns" (
        "owner" character varying(255) NOT NULL,
        "served_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "PK_lyrics_owner_turns" PRIMARY KEY ("owner")
      )
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "lyrics_owner_turns"`);
    await queryRunner.query(`DROP INDEX "public"."lyrics_tasks_owner_due_idx"`);
    await queryRunner.query(`DROP INDEX "public"."lyrics_tasks_owner_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."lyrics_tasks_owner_status_created_idx"`);
    await queryRunner.query(`DROP INDEX "public"."lyrics_tasks_owner_active_idx"`);
    await queryRunner.query(`DROP INDEX "public"."lyrics_tasks_owner_idempotency_key_key"`);
    await queryRunner.query(`DROP INDEX "public"."lyrics_tasks_idempotency_created_idx"`);
    await queryRunner.query(`CREATE INDEX "lyrics_tasks_created_idx" ON "lyrics_tasks" ("created_at", "id")`);
    await queryRunner.query(`CREATE INDEX "lyrics_tasks_status_created_idx" ON "lyrics_tasks" ("status", "created_at", "id")`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "lyrics_tasks_idempotency_key_key" ON "lyrics_tasks" ("idempotency_key")
      WHERE idempotency_key IS NOT NULL
    `);
    await queryRunner.query(`ALTER TABLE "lyrics_tasks" DROP COLUMN "owner"`);
  }
}
