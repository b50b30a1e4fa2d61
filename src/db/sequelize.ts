import { Sequelize } from 'sequelize';
import { initModels, type Models } from './models/index.js';

export interface Database {
  /** The connection URL (for tools that need their own connection, e.g. the migration lock). */
  url: string;
  sequelize: Sequelize;
  models: Models;
  close(): Promise<void>;
}

/**
 * One Sequelize instance per process; every model registered on it. Requests get deadlines: a
 * statement may run 10 s on the server, and the client gives up 1 s later even when the server
 * hangs (a frozen PostgreSQL must not hang a login page). `timeouts: false` is for migrations,
 * whose statements (an index on a large table) may take longer.
 */
export function createDatabase(url: string, options: { poolMax: number; timeouts?: boolean }): Database {
  const timeouts = options.timeouts !== false;
  const sequelize = new Sequelize(url, {
    dialect: 'postgres',
    logging: false,
    pool: { max: options.poolMax, min: 0, idle: 10_000, acquire: 10_000 },
    dialectOptions: {
      connectionTimeoutMillis: 5_000,
      ...(timeouts ? { statement_timeout: 10_000, query_timeout: 11_000 } : {}),
    },
    define: { underscored: true },
  });
  const models = initModels(sequelize);
  return { url, sequelize, models, close: () => sequelize.close() };
}
