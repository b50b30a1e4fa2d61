import type { Models } from '../db/models/index.js';
import type { Logger } from '../log.js';

export interface AuditEntry {
  type: string;
  actor?: string | null;
  accountId?: string | null;
  clientId?: string | null;
  ip?: string | null;
  details?: Record<string, unknown>;
}

/**
 * Append-only audit log in Postgres. Recording never fails the action it records: a write error
 * is logged instead (the action has already happened).
 */
export function createAuditLog(models: Models, logger: Logger) {
  return {
    async record(entry: AuditEntry): Promise<void> {
      try {
        await models.AuditEvent.create({
          type: entry.type,
          actor: entry.actor ?? null,
          accountId: entry.accountId ?? null,
          clientId: entry.clientId ?? null,
          ip: entry.ip ?? null,
          details: entry.details ?? {},
        });
      } catch (error) {
        logger.error({ err: error, type: entry.type }, 'audit event could not be written');
      }
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
