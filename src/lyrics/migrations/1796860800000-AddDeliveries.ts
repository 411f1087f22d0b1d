import { MigrationInterface, QueryRunner } from 'typeorm';

/** Delivery of final events to host handlers and client webhooks, per-owner webhook secrets, and tasks' webhook URLs. */
export class AddDeliveries1796860800000 implements MigrationInterface {
  name = 'AddDeliveries1796860800000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "lyrics_tasks" ADD "webhook_url" character varying(2048)`);
    await queryRunner.query(`
      CREATE TABLE "lyrics_deliveries" (
        "id" BIGSERIAL NOT NULL,
        "event_seq" bigint NOT NULL,
        "task_id" uuid NOT NULL,
        "owner" character varying(255) NOT NULL,
        "consumer" character varying(16) NOT NULL,
        "url" character varying(2048),
        "status" character varying(16) NOT NULL DEFAULT 'pending',
        "attempt_count" integer NOT NULL DEFAULT '0',
        "attempts" jsonb NOT NULL DEFAULT '[]',
        "next_attempt_at" TIMESTAMP WITH TIME ZONE DEFAULT clock_timestamp(),
        "lease_until" TIMESTAMP WITH TIME ZONE,
        "lease_token" uuid,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(),
        "completed_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "lyrics_deliveries_status_check" CHECK (status IN ('pending', 'delivered', 'failed', 'stopped')),
        CONSTRAINT "lyrics_deliveries_consumer_check" CHECK (consumer IN ('host', 'webhook')),
        CONSTRAINT "PK_b3ef14dfb919df3bad0597629a7" PRIMARY KEY ("id"),
        CONSTRAINT "FK_21677577c2ecd87f505513c24ab" FOREIGN KEY ("event_seq") REFERENCES "lyrics_events"("seq") ON DELETE CASCADE ON UPDATE NO ACTION
      )
    `);
    await queryRunner.query(`CREATE INDEX "lyrics_deliveries_event_idx" ON "lyrics_deliveries" ("event_seq")`);
    await queryRunner.query(`CREATE INDEX "lyrics_deliveries_task_idx" ON "lyrics_deliveries" ("task_id", "consumer", "event_seq")`);
    await queryRunner.query(
      `CREATE INDEX "lyrics_deliveries_task_pending_idx" ON "lyrics_deliveries" ("task_id", "consumer", "event_seq") WHERE status = 'pending'`,
    );
    await queryRunner.query(
      `CREATE INDEX "lyrics_deliveries_due_idx" ON "lyrics_deliveries" ("consumer", "owner", "next_attempt_at") WHERE status = 'pending'`,
    );
    await queryRunner.query(
      `CREATE INDEX "lyrics_deliveries_claimed_idx" ON "lyrics_deliveries" ("consumer", "owner") WHERE lease_until IS NOT NULL`,
    );
    await queryRunner.query(`
      CREATE TABLE "lyrics_webhook_secrets" (
        "owner" character varying(255) NOT NULL,
        "secret" character varying(64) NOT NULL,
        "previous_secret" character varying(64),
        "previous_until" TIMESTAMP WITH TIME ZONE,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(),
        "rotated_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "PK_5436bdf542e3e28c08b0c567509" PRIMARY KEY ("owner")
      )
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "lyrics_webhook_secrets"`);
    await queryRunner.query(`DROP TABLE "lyrics_deliveries"`);
    await queryRunner.query(`ALTER TABLE "lyrics_tasks" DROP COLUMN "webhook_url"`);
  }
}
