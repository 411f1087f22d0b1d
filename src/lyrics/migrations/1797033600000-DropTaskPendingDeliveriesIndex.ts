import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The relay's per-task order check now reads lyrics_deliveries_task_idx (a pending delivery is one with a next
 * attempt time), which the planner picks whatever the statistics say; the pending-only copy of that index was one
 * more index to write on every claim and record.
 */
export class DropTaskPendingDeliveriesIndex1797033600000 implements MigrationInterface {
  name = 'DropTaskPendingDeliveriesIndex1797033600000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."lyrics_deliveries_task_pending_idx"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "lyrics_deliveries_task_pending_idx" ON "lyrics_deliveries" ("task_id", "consumer", "event_seq") WHERE status = 'pending'`,
    );
  }
}
