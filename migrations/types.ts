import type { QueryInterface } from 'sequelize';

/** What every migration receives: `up` only, migrations are forward-only. */
export interface MigrationContext {
  queryInterface: QueryInterface;
}
export interface Migration {
  up(params: { context: MigrationContext }): Promise<void>;
}
