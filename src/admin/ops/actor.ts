/**
 * Who made an admin change, and how it reaches the audit log: every operation in ops/ takes an
 * `Actor` and records through one `AuditRecorder`, whether the console, the API or the CLI called it.
 */
import type { AuditLog } from '../../accounts/audit.js';

/** Who made a change: the admin's account id (the audit `actor`), how, and from where. */
export interface Actor {
  /** The acting admin's account id; for the command line `cli:<user>`. */
  accountId: string;
  via: 'console' | 'api' | 'cli';
  ip?: string;
  /** The API client whose token was used. */
  clientId?: string;
}

export interface AuditEntry {
  type: string;
  accountId?: string | null;
  details?: Record<string, unknown>;
}

export type AuditRecorder = (actor: Actor, entry: AuditEntry) => Promise<unknown>;

/** Writes an admin change to the audit log with who made it, how (`via`) and from where. */
export function auditRecorder(audit: AuditLog): AuditRecorder {
  return (actor, entry) =>
    audit.record({
      type: entry.type,
      actor: actor.accountId,
      accountId: entry.accountId ?? null,
      clientId: actor.clientId ?? null,
      ip: actor.ip ?? null,
      details: { via: actor.via, ...entry.details },
    });
}
