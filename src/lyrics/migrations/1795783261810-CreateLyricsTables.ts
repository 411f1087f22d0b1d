import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tasks, their lyrics variants, the upstream rate budgets' slots and the callback receipts (generated from the
 * entities, then read).
 */
export class CreateLyricsTables1795783261810 implements MigrationInterface {
  name = 'CreateLyricsTables1795783261810';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "lyrics_callback_receipts" (
        "id" BIGSERIAL NOT NULL,
        "received_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(),
        "task_id" uuid,
        "kie_task_id" character varying(64),
        "outcome" character varying(16) NOT NULL,
        "detail" text,
        "remote_address" character varying(64),
        "body" text NOT NULL,
        "body_truncated" boolean NOT NULL DEFAULT false,
        CONSTRAINT "lyrics_callback_receipts_outcome_check" CHECK (
          outcome IN (
            'applied',
            'duplicate',
            'already_final',
            'unconfirmed',
            'unauthorized',
            'malformed',
            'mismatch'
          )
        ),
        CONSTRAINT "PK_77c558cf76bc4fe16ba6d4c73af" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "lyrics_callback_receipts_task_idx" ON "lyrics_callback_receipts" ("task_id")
      WHERE task_id IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE INDEX "lyrics_callback_receipts_received_idx" ON "lyrics_callback_receipts" ("received_at")
    `);
    await queryRunner.query(`
      CREATE TABLE "lyrics_rate_slots" (
        "bucket" character varying(32) NOT NULL,
        "slot" integer NOT NULL,
        "used_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT '-infinity',
        CONSTRAINT "PK_8005d1228ec24c937631f3faab0" PRIMARY KEY ("bucket", "slot")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "lyrics_variants" (
        "task_id" uuid NOT NULL,
        "position" smallint NOT NULL,
        "title" text NOT NULL,
        "text" text NOT NULL,
        "status" character varying(16) NOT NULL,
        "error_message" text,
        CONSTRAINT "lyrics_variants_status_check" CHECK (status IN ('complete', 'failed')),
        CONSTRAINT "PK_980a484ce672a2f8ce8a6c348df" PRIMARY KEY ("task_id", "position")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "lyrics_tasks" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "status" character varying(16) NOT NULL,
        "prompt" text NOT NULL,
        "metadata" jsonb,
        "idempotency_key" character varying(255),
        "request_hash" character(64),
        "kie_task_id" character varying(64),
        "callback_token_hash" character(64),
        "error_code" character varying(32),
        "error_message" text,
        "attempts" integer NOT NULL DEFAULT '0',
        "result_source" character varying(16),
        "polls" integer NOT NULL DEFAULT '0',
        "next_attempt_at" TIMESTAMP WITH TIME ZONE,
        "lease_until" TIMESTAMP WITH TIME ZONE,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(),
        "submitted_at" TIMESTAMP WITH TIME ZONE,
        "completed_at" TIMESTAMP WITH TIME ZONE,
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT "lyrics_tasks_error_check" CHECK ((status = 'failed') = (error_code IS NOT NULL)),
        CONSTRAINT "lyrics_tasks_result_source_check" CHECK (result_source IN ('callback', 'poll')),
        CONSTRAINT "lyrics_tasks_status_check" CHECK (
          status IN ('queued', 'submitted', 'succeeded', 'failed')
        ),
        CONSTRAINT "PK_d3a35b04644de8ad4ea64f1991d" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "lyrics_tasks_kie_task_id_key" ON "lyrics_tasks" ("kie_task_id")
      WHERE kie_task_id IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "lyrics_tasks_idempotency_key_key" ON "lyrics_tasks" ("idempotency_key")
      WHERE idempotency_key IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE INDEX "lyrics_tasks_status_created_idx" ON "lyrics_tasks" ("status", "created_at", "id")
    `);
    await queryRunner.query(`
      CREATE INDEX "lyrics_tasks_created_idx" ON "lyrics_tasks" ("created_at", "id")
    `);
    await queryRunner.query(`
      CREATE INDEX "lyrics_tasks_lease_idx" ON "lyrics_tasks" ("lease_until")
      WHERE lease_until IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE INDEX "lyrics_tasks_due_idx" ON "lyrics_tasks" ("status", "next_attempt_at")
      WHERE status IN ('queued', 'submitted')
    `);
    await queryRunner.query(`
      ALTER TABLE "lyrics_variants"
      ADD CONSTRAINT "FK_ea80dfc3b3fb1af506b92bdd674" FOREIGN KEY ("task_id") REFERENCES "lyrics_tasks"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "lyrics_variants" DROP CONSTRAINT "FK_ea80dfc3b3fb1af506b92bdd674"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."lyrics_tasks_due_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."lyrics_tasks_lease_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."lyrics_tasks_created_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."lyrics_tasks_status_created_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."lyrics_tasks_idempotency_key_key"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."lyrics_tasks_kie_task_id_key"
    `);
    await queryRunner.query(`
      DROP TABLE "lyrics_tasks"
    `);
    await queryRunner.query(`
      DROP TABLE "lyrics_variants"
    `);
    await queryRunner.query(`
      DROP TABLE "lyrics_rate_slots"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."lyrics_callback_receipts_received_idx"
    `);
    await queryRunner.query(`
      DROP INDEX "public"."lyrics_callback_receipts_task_idx"
    `);
    await queryRunner.query(`
      DROP TABLE "lyrics_callback_receipts"
    `);
  }
}
