import type { MigrationContext } from './types.js';

/**
 * PKCE became required for every client by default (issue #14, RFC 9700 §2.1.1), with the opt-out
 * `require_pkce: false`. Confidential clients registered before that were registered under the old
 * rule (PKCE optional), and some of their software sends none (Argo CD, Jenkins without "Enable
 * PKCE"): they keep the rule they were registered under, written out as `require_pkce: false`, so
 * an upgrade signs nobody out of an application. Operators turn PKCE on per client
 * (`clients update <id> --pkce`, or the console) once the application sends it. Clients registered
 * from now on get the new default; public clients always needed PKCE.
 */
export async function up({ context: { queryInterface } }: { context: MigrationContext }): Promise<void> {
  await queryInterface.sequelize.query(
    `UPDATE clients
        SET metadata = metadata || '{"require_pkce": false}'::jsonb, updated_at = now()
      WHERE NOT (metadata ? 'require_pkce')
        AND COALESCE(metadata->>'token_endpoint_auth_method', 'client_secret_basic') <> 'none'`,
  );
}
