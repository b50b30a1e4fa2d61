import { Sequelize } from 'sequelize';
import { initModels, type Models } from './models/index.js';

export interface Database {
  /** The connection URL (for tools that need their own connection, e.g. the migration lock). */
  url: string;
  sequelize: Sequelize;
  models: Models;
  close(): Promise<void>;
}

/** One Sequelize instance per process; every model registered on it. */
export function createDatabase(url: string, options: { poolMax: number }): Database {
  const sequelize = new Sequelize(url, {
    dialect: 'postgres',
    logging: false,
    pool: { max: options.poolMax, min: 0, idle: 10_000, acquire: 10_000 },
    dialectOptions: { connectionTimeoutMillis: 5_000, statement_timeout: 10_000 },
    define: { underscored: true },
  });
  const models = initModels(sequelize);
  return { url, sequelize, models, close: () => sequelize.close() };
}
