import { MigrationInterface, QueryRunner } from 'typeorm';

/** The outbox: one event per final transition, written by the transition's own statement (see LyricsEventEntity). */
export class AddLyricsEvents1796774400000 implements MigrationInterface {
  name = 'AddLyricsEvents1796774400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "lyrics_events" (
        "seq" BIGSERIAL NOT NULL,
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "tx_id" bigint NOT NULL,
        "owner" character varying(255) NOT NULL,
        "task_id" uuid NOT NULL,
        "type" character varying(32) NOT NULL,
        "data" jsonb NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT "lyrics_events_type_check" CHECK (type IN ('lyrics.succeeded', 'lyrics.failed')),
        CONSTRAINT "PK_27d12735b5f8f9aec4b5481a6a7" PRIMARY KEY ("seq")
      )
    `);
    await queryRunner.query(`CREATE INDEX "lyrics_events_created_idx" ON "lyrics_events" ("created_at")`);
    await queryRunner.query(`CREATE INDEX "lyrics_events_owner_feed_idx" ON "lyrics_events" ("owner", "tx_id", "seq")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "lyrics_events_id_key" ON "lyrics_events" ("id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "lyrics_events"`);
  }
}
