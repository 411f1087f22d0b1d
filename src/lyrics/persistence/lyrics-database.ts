import { Inject, Injectable } from '@nestjs/common';
import { Notification, Pool, PoolClient, QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { LYRICS_DATA_SOURCE } from '../lyrics.tokens';
import { listen, unlisten } from './listen.sql';

/**
 * One SQL statement and its values. A statement with a name is prepared once per connection and then only executed,
 * so PostgreSQL plans the hot paths (callback, submit, claims) once instead of on every call; the name must always
 * come with the same text.
 */
export interface Statement {
  name?: string;
  text: string;
  values: unknown[];
}

/** A LISTEN held open on a connection of its own. */
export interface Listening {
  stop(): Promise<void>;
}

/** Where statements run: the pool, or one connection inside a transaction. */
export interface SqlExecutor {
  rows<T extends QueryResultRow>(statement: Statement): Promise<T[]>;
  /** The number of rows the statement touched. */
  count(statement: Statement): Promise<number>;
}

class ClientExecutor implements SqlExecutor {
  constructor(private readonly client: Pool | PoolClient) {}

  async rows<T extends QueryResultRow>(statement: Statement): Promise<T[]> {
    return (await this.client.query<T>(statement)).rows;
  }

  async count(statement: Statement): Promise<number> {
    return (await this.client.query(statement)).rowCount ?? 0;
  }
}

/**
 * The module's access to PostgreSQL: the pg pool of the host's TypeORM data source, used directly, because TypeORM's
 * `query()` cannot send named (prepared) statements. Sharing the host's pool keeps one set of connections, one
 * configuration and one shutdown. Only the stores in this folder use it.
 */
@Injectable()
export class LyricsDatabase implements SqlExecutor {
  private readonly pool: Pool;
  private readonly executor: ClientExecutor;

  constructor(@Inject(LYRICS_DATA_SOURCE) dataSource: DataSource) {
    this.pool = (dataSource.driver as unknown as { master: Pool }).master;
    this.executor = new ClientExecutor(this.pool);
  }

  rows<T extends QueryResultRow>(statement: Statement): Promise<T[]> {
    return this.executor.rows<T>(statement);
  }

  count(statement: Statement): Promise<number> {
    return this.executor.count(statement);
  }

  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const result = await work(new ClientExecutor(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
      throw error;
    } finally {
      // A connection whose rollback failed is in an unknown state: destroy it rather than return it to the pool.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  /**
   * Holds one pooled connection that LISTENs on `channel` until stopped: `onPayload` gets each notification's payload
   * (delivered at the notifying transaction's commit), `onLost` the error that ended the connection.
   */
  async listen(channel: string, onPayload: (payload: string) => void, onLost: (error: Error) => void): Promise<Listening> {
    const client = await this.pool.connect();
    client.on('notification', (message: Notification) => {
      if (message.channel === channel && message.payload) onPayload(message.payload);
    });
    let released = false;
    const release = (error?: Error) => {
      if (released) return;
      released = true;
      client.release(error);
    };
    client.on('error', (error) => {
      release(error);
      onLost(error);
    });
    try {
      await client.query(listen(channel));
    } catch (error) {
      release(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    return {
      stop: async () => {
        if (released) return;
        await client.query(unlisten(channel)).catch(() => undefined);
        release();
      },
    };
  }
}
