import { Check, Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, Relation } from 'typeorm';
import { LyricsTaskEntity } from './lyrics-task.entity';

/** One of the 2 or 3 lyrics KIE writes for a task, in KIE's order. */
@Entity({ name: 'lyrics_variants' })
@Check('lyrics_variants_status_check', `status IN ('complete', 'failed')`)
export class LyricsVariantEntity {
  @PrimaryColumn({ name: 'task_id', type: 'uuid' })
  taskId: string;

  @PrimaryColumn({ type: 'smallint' })
  position: number;

  @ManyToOne(() => LyricsTaskEntity, (task) => task.variants, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'task_id' })
  task?: Relation<LyricsTaskEntity>;

  @Column({ type: 'text' })
  title: string;

  @Column({ type: 'text' })
  text: string;

  @Column({ type: 'varchar', length: 16 })
  status: 'complete' | 'failed';

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage: string | null;
}
