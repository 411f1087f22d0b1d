import { MigrationInterface, QueryRunner } from 'typeorm';

/** The `cancelled` status (POST /lyrics/:id/cancel) and its final event, lyrics.cancelled. */
export class AddCancelled1796947200000 implements MigrationInterface {
  name = 'AddCancelled1796947200000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "lyrics_tasks" DROP CONSTRAINT "lyrics_tasks_status_check"`);
    await queryRunner.query(
      `ALTER TABLE "lyrics_tasks" ADD CONSTRAINT "lyrics_tasks_status_check" CHECK (status IN ('queued', 'submitted', 'succeeded', 'failed', 'cancelled'))`,
    );
    await queryRunner.query(`ALTER TABLE "lyrics_events" DROP CONSTRAINT "lyrics_events_type_check"`);
    await queryRunner.query(
      `ALTER TABLE "lyrics_events" ADD CONSTRAINT "lyrics_events_type_check" CHECK (type IN ('lyrics.succeeded', 'lyrics.failed', 'lyrics.cancelled'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "lyrics_events" DROP CONSTRAINT "lyrics_events_type_check"`);
    await queryRunner.query(
      `ALTER TABLE "lyrics_events" ADD CONSTRAINT "lyrics_events_type_check" CHECK (type IN ('lyrics.succeeded', 'lyrics.failed'))`,
    );
    await queryRunner.query(`ALTER TABLE "lyrics_tasks" DROP CONSTRAINT "lyrics_tasks_status_check"`);
    await queryRunner.query(
      `ALTER TABLE "lyrics_tasks" ADD CONSTRAINT "lyrics_tasks_status_check" CHECK (status IN ('queued', 'submitted', 'succeeded', 'failed'))`,
    );
  }
}
