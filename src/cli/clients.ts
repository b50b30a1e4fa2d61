import type { Config } from '../config/schema.js';
import { type ClientInput, GRANT_TYPES, type GrantType } from '../oidc/clients.js';
import { createClientValidator } from '../oidc/provider.js';
import { openCli, printTable } from './context.js';
import { parseArgs } from 'node:util';

const HELP = `Usage:
  dingtalk-oidc clients add --name NAME [options]
      --redirect-uri URI            (repeatable) exact callback URL(s)
      --post-logout-uri URI         (repeatable) where RP-initiated logout may return
      --grant TYPE                  (repeatable) authorization_code, refresh_token, client_credentials
                                    default: authorization_code + refresh_token
      --public                      no secret (SPA, native, CLI); PKCE required
      --first-party                 trusted app: no consent screen
      --backchannel-logout-uri URI  receives logout tokens
      --auth-method METHOD          client_secret_basic (default), client_secret_post, private_key_jwt
      --jwks-uri URI                keys of a private_key_jwt client
      --scope "a b c"               OpenID scopes the client may request (default: any)
      --resource URI[=s1,s2]        (repeatable) a resource server the client may get tokens for,
                                    optionally only these of its scopes
      --id ID                       choose the client_id
      --metadata JSON               further oidc-provider client metadata
  dingtalk-oidc clients list [--json]
  dingtalk-oidc clients show <client_id>
  dingtalk-oidc clients remove <client_id>
  dingtalk-oidc clients rotate-secret <client_id>

The secret is printed once, when it is created or rotated; it cannot be shown again.
Running servers see changes within their client cache time (oidc.clientCacheMs).`;

export async function runClients(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
    name: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-uri': { type: 'string', multiple: true },
    grant: { type: 'string', multiple: true },
    public: { type: 'boolean' },
    'first-party': { type: 'boolean' },
    'backchannel-logout-uri': { type: 'string' },
    'auth-method': { type: 'string' },
    'jwks-uri': { type: 'string' },
    scope: { type: 'string' },
    resource: { type: 'string', multiple: true },
    id: { type: 'string' },
    metadata: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    },
  });
  const [action, clientId] = positionals;
  if (values.help || !action) {
    console.log(HELP);
    return values.help ? 0 : 1;
  }
  const cli = await openCli(config);
  try {
    switch (action) {
      case 'add': {
        if (!values.name) {
          console.error('clients add needs --name');
          return 1;
        }
        const grants = (values.grant ?? ['authorization_code', 'refresh_token']) as GrantType[];
        const unknown = grants.filter((g) => !GRANT_TYPES.includes(g));
        if (unknown.length > 0) {
          console.error(`unknown grant type(s): ${unknown.join(', ')} (allowed: ${GRANT_TYPES.join(', ')})`);
          return 1;
        }
        let metadata: Record<string, unknown> | undefined;
        if (values.metadata) {
          try {
            metadata = JSON.parse(values.metadata) as Record<string, unknown>;
          } catch {
            console.error('--metadata must be a JSON object');
            return 1;
          }
        }
        const input: ClientInput = {
          name: values.name,
          clientId: values.id,
          redirectUris: values['redirect-uri'],
          postLogoutRedirectUris: values['post-logout-uri'],
          grantTypes: grants,
          public: values.public,
          firstParty: values['first-party'],
          backchannelLogoutUri: values['backchannel-logout-uri'],
          tokenEndpointAuthMethod: values['auth-method'] as ClientInput['tokenEndpointAuthMethod'],
          jwksUri: values['jwks-uri'],
          scope: values.scope,
          allowedResources: values.resource ? parseResources(values.resource) : undefined,
          metadata,
        };
        const validate = await createClientValidator(config, cli.keyStore);
        const created = await cli.clientStore.add(input, async (m) => {
          try {
            await validate(m);
          } catch (error) {
            const e = error as { error_description?: string; message: string };
            throw new Error(`invalid client: ${e.error_description ?? e.message}`);
          }
        });
        if (values.json) {
          console.log(JSON.stringify({ client_id: created.clientId, client_secret: created.clientSecret }));
        } else {
          console.log(`client_id:     ${created.clientId}`);
          if (created.clientSecret) {
            console.log(`client_secret: ${created.clientSecret}`);
            console.log('Store the secret now: it is not shown again.');
          }
        }
        return 0;
      }
      case 'list': {
        const clients = await cli.clientStore.list();
        if (values.json) console.log(JSON.stringify(clients, null, 2));
        else
          printTable(
            clients.map((c) => ({
              client_id: c.clientId,
              name: c.name,
              grants: c.metadata.grant_types,
              first_party: c.firstParty,
              source: c.source,
            })),
          );
        return 0;
      }
      case 'show': {
        const client = clientId ? await cli.clientStore.get(clientId) : undefined;
        if (!client) {
          console.error(`no client ${clientId ?? '(missing client_id)'}`);
          return 1;
        }
        console.log(JSON.stringify(client, null, 2));
        return 0;
      }
      case 'remove': {
        const done = clientId ? await cli.clientStore.remove(clientId) : false;
        console.log(done ? `removed ${clientId}` : `no client ${clientId ?? '(missing client_id)'} in the database`);
        return done ? 0 : 1;
      }
      case 'rotate-secret': {
        const secret = clientId ? await cli.clientStore.rotateSecret(clientId) : undefined;
        if (!secret) {
          console.error(`no confidential client ${clientId ?? '(missing client_id)'} in the database`);
          return 1;
        }
        if (values.json) console.log(JSON.stringify({ client_id: clientId, client_secret: secret }));
        else
          console.log(
            `client_secret: ${secret}\nThe old secret stops working once running servers refresh their client cache (oidc.clientCacheMs). Store this one now: it is not shown again.`,
          );
        return 0;
      }
      default:
        console.error(`unknown action "${action}"\n\n${HELP}`);
        return 1;
    }
  } finally {
    await cli.close();
  }
}

/** `--resource https://api=read,write` → { 'https://api': ['read', 'write'] }. */
function parseResources(values: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const value of values) {
    const match = /^(.+?)(?:=([^=]*))?$/.exec(value)!;
    const uri = match[1]!;
    if (!URL.canParse(uri)) throw new Error(`--resource ${value}: not an absolute URI`);
    out[uri] = (match[2] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  }
  return out;
}
