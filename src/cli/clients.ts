import type { ClientMetadata } from 'oidc-provider';
import { type Actor, auditRecorder } from '../admin/ops/actor.js';
import { clientFormSchema } from '../admin/ops/client-schema.js';
import { type ClientForm, type ClientView, createClientOps, PRESET_NAMES, PRESETS, type PresetName } from '../admin/ops/clients.js';
import type { Config } from '../config/schema.js';
import { AppError } from '../errors/app-error.js';
import { GRANT_TYPES, type GrantType } from '../oidc/clients.js';
import { createClientValidator } from '../oidc/provider.js';
import { adminServiceOf, cliUser, openCli, printTable, openServices } from './context.js';
import { parseCommand, showHelp, unknownCommand } from './args.js';

const HELP = `Usage:
  dingtalk-oidc clients add --name NAME [options]
  dingtalk-oidc clients add --preset grafana|gitlab|jenkins|argocd --base-url URL [--name NAME] [options]
      redirect and logout URIs, grant types, authentication method, ID token claims and
      --first-party come from the preset (see 'clients presets'); options given override them
  dingtalk-oidc clients update <client_id> [options]
      change the given settings, keep the others (a repeatable option replaces the whole list);
      CLIENTS_FILE clients and the admin console's own client cannot be changed here
  dingtalk-oidc clients presets [--json]
  dingtalk-oidc clients list [--json]
  dingtalk-oidc clients show <client_id>           settings as the admin API shows them (no secret)
  dingtalk-oidc clients remove <client_id>
  dingtalk-oidc clients rotate-secret <client_id> [--json]

Options of add and update:
  --name NAME
  --redirect-uri URI              (repeatable) exact callback URL(s)
  --post-logout-uri URI           (repeatable) where RP-initiated logout may return
  --grant TYPE                    (repeatable) authorization_code, refresh_token, client_credentials
                                  default: authorization_code + refresh_token
  --public                        no secret (SPA, native, CLI); PKCE required
  --first-party                   trusted app: no consent screen (--no-first-party: ask)
  --backchannel-logout-uri URI    receives logout tokens (--no-backchannel-logout-uri: none)
  --auth-method METHOD            client_secret_basic (default), client_secret_post, private_key_jwt
  --jwks-uri URI                  keys of a private_key_jwt client
  --scope "a b c"                 OpenID scopes the client may request (default: any)
  --resource URI[=s1,s2]          (repeatable) a resource server the client may get tokens for,
                                  optionally only these of its scopes (--no-resources: none)
  --access-role ROLE              (repeatable) only people with one of these roles…
  --access-department ID          (repeatable) …or in one of these DingTalk departments (and their
                                  sub-departments) may sign in (--no-access-policy: everyone)
  --id-token-claims all|none|a,b  claims put into the ID token besides those the app asks for
  --groups-include-departments    \`groups\` lists department paths too (--no-groups-include-departments)
  --no-pkce                       this confidential app cannot send PKCE: let it leave it out
                                  (PKCE is required by default; --pkce requires it again)
  --service-role ROLE             (repeatable) roles the client's own client_credentials tokens carry
                                  (admin or auditor: the admin API without a person; --no-service-roles)
  --id ID                         choose the client_id (add only)
  --metadata JSON                 further oidc-provider client metadata (null removes a key); keys
                                  that an option above sets (access_policy, jwks_uri…) are checked
                                  as that option
  --json                          print the result as JSON

The secret is printed once, when it is created or rotated; it cannot be shown again. Every change
is in the audit log with the actor cli:<user>. Running servers are told at once through Redis
(REDIS_URL); otherwise they see changes within their client cache time (oidc.clientCacheMs).`;

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

const OPTIONS = {
  name: { type: 'string' },
  preset: { type: 'string' },
  'base-url': { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'post-logout-uri': { type: 'string', multiple: true },
  grant: { type: 'string', multiple: true },
  public: { type: 'boolean' },
  'first-party': { type: 'boolean' },
  'no-first-party': { type: 'boolean' },
  'backchannel-logout-uri': { type: 'string' },
  'no-backchannel-logout-uri': { type: 'boolean' },
  'auth-method': { type: 'string' },
  'jwks-uri': { type: 'string' },
  scope: { type: 'string' },
  resource: { type: 'string', multiple: true },
  'no-resources': { type: 'boolean' },
  'access-role': { type: 'string', multiple: true },
  'access-department': { type: 'string', multiple: true },
  'no-access-policy': { type: 'boolean' },
  'id-token-claims': { type: 'string' },
  'groups-include-departments': { type: 'boolean' },
  'no-groups-include-departments': { type: 'boolean' },
  pkce: { type: 'boolean' },
  'no-pkce': { type: 'boolean' },
  'service-role': { type: 'string', multiple: true },
  'no-service-roles': { type: 'boolean' },
  id: { type: 'string' },
  metadata: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const parse = (args: string[]) => parseCommand(args, OPTIONS);
type Values = ReturnType<typeof parse>['values'];

/** `clients …`: the admin console's client operations (presets, validation, audit) for scripts. */
export async function runClients(config: Config, args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    console.error(`error: ${firstSentence((error as Error).message)} (see 'dingtalk-oidc clients --help')`);
    return 1;
  }
  const { values, positionals } = parsed;
  const [action, clientId] = positionals;
  if (values.help || !action) return showHelp(HELP, values.help);
  if (action === 'presets') return printPresets(values.json);
  if (!['add', 'update', 'list', 'show', 'remove', 'rotate-secret'].includes(action)) {
    return unknownCommand(`unknown action "${action}"`, HELP);
  }
  if (action !== 'add' && action !== 'list' && !clientId) {
    console.error(`error: clients ${action} needs a client_id`);
    return 1;
  }
  // Mistakes in the options are reported before anything is opened.
  const addForm = action === 'add' ? formOf(values) : undefined;
  if (action === 'add' && !values.name && !values.preset) throw usage('clients add needs --name (or --preset)');
  if (action === 'update') {
    for (const option of ['preset', 'base-url', 'id'] as const) {
      if (values[option] !== undefined) throw usage(`--${option} applies to clients add only`);
    }
    if (Object.values(formOf(values)).every((v) => v === undefined)) {
      throw usage('clients update needs at least one setting to change (see --help)');
    }
  }

  const cli = await openCli(config);
  try {
    const actor: Actor = { accountId: cliUser(), via: 'cli' };
    let validator: ((metadata: ClientMetadata) => Promise<void>) | undefined;
    const ops = createClientOps({
      issuer: config.issuer,
      clientStore: cli.clientStore,
      validateClient: async (metadata) => {
        // A throwaway provider with the real configuration, built only when something is saved.
        validator ??= await createClientValidator(config, cli.keyStore);
        await validator(metadata);
      },
      record: auditRecorder(cli.audit),
      ...(cli.access ? { access: cli.access } : {}),
    });

    switch (action) {
      case 'add': {
        const created = await ops.createClient(addForm!, actor);
        if (values.json) {
          console.log(JSON.stringify({ client_id: created.client.clientId, client_secret: created.clientSecret }));
        } else {
          console.log(`client_id:     ${created.client.clientId}`);
          if (created.clientSecret) {
            console.log(`client_secret: ${created.clientSecret}`);
            console.log('Store the secret now: it is not shown again.');
          }
        }
        return 0;
      }
      case 'update': {
        const before = await ops.getClient(clientId!);
        const after = await ops.updateClient(clientId!, formOf(values, before), actor);
        if (values.json) console.log(JSON.stringify(after, null, 2));
        else {
          const changed = (Object.keys(after) as (keyof ClientView)[]).filter(
            (key) => JSON.stringify(after[key]) !== JSON.stringify(before[key]),
          );
          console.log(
            changed.length > 0
              ? `updated ${clientId}: ${changed.join(', ')}`
              : `updated ${clientId} (no setting shown by 'clients show' changed)`,
          );
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
              grants: stringsOf(c.metadata.grant_types),
              first_party: c.firstParty,
              source: c.source,
            })),
          );
        return 0;
      }
      case 'show':
        console.log(JSON.stringify(await ops.getClient(clientId!), null, 2));
        return 0;
      case 'remove': {
        // The admin service's delete: the client, then its consents, grants and session entries
        // (Redis), as the console and the API do it.
        const services = await openServices(config);
        try {
          const result = await adminServiceOf(services).deleteClient(clientId!, actor);
          console.log(
            `removed ${clientId} (${result.consents} consent(s), ${result.grants} grant(s), ${result.sessions} session entr${result.sessions === 1 ? 'y' : 'ies'})`,
          );
        } finally {
          await services.close();
        }
        return 0;
      }
      default: {
        const { clientSecret: secret } = await ops.rotateClientSecret(clientId!, actor);
        if (values.json) console.log(JSON.stringify({ client_id: clientId, client_secret: secret }));
        else
          console.log(
            `client_secret: ${secret}\nThe old secret stops working once running servers refresh their client cache (oidc.clientCacheMs). Store this one now: it is not shown again.`,
          );
        return 0;
      }
    }
  } catch (error) {
    // The operations' refusals (unknown client, file client, invalid metadata…): one line, no stack.
    if (!(error instanceof AppError) || !error.expose) throw error;
    console.error(`error: ${error.code === 'clients.invalid_metadata' ? 'invalid client: ' : ''}${error.message}`);
    return 1;
  } finally {
    await cli.close();
  }
}

function printPresets(json: boolean | undefined): number {
  if (json) {
    console.log(JSON.stringify(PRESETS, null, 2));
    return 0;
  }
  printTable(
    Object.entries(PRESETS).map(([name, p]) => ({
      name,
      label: p.label,
      redirect_paths: p.redirectPaths,
      post_logout_paths: p.postLogoutPaths,
      auth_method: p.tokenEndpointAuthMethod,
      id_token_claims: p.idTokenClaims === true ? 'all' : p.idTokenClaims,
      groups_with_departments: p.groupsIncludeDepartments,
      pkce_required: p.pkceRequired,
    })),
  );
  console.log(
    `\ndingtalk-oidc clients add --preset NAME --base-url https://app.example.com: redirect URIs are the base URL + these paths.`,
  );
  return 0;
}

/**
 * The form of `add` (no `current`) or `update` (`current`: the client as it is) from the options.
 * Absent options stay undefined, so the operations keep the current value or the preset's.
 */
function formOf(values: Values, current?: ClientView): ClientForm {
  const both = (on: keyof Values, off: keyof Values): boolean | undefined => {
    if (values[on] && values[off]) throw usage(`--${on} and --${off} contradict each other`);
    return values[on] ? true : values[off] ? false : undefined;
  };
  const form: ClientForm = {};

  if (values.preset !== undefined) {
    if (!(PRESET_NAMES as readonly string[]).includes(values.preset))
      throw usage(`unknown preset "${values.preset}" (one of: ${PRESET_NAMES.join(', ')})`);
    if (!values['base-url']) throw usage(`--preset ${values.preset} needs --base-url (the application's address, https://…)`);
    form.preset = values.preset as PresetName;
    form.baseUrl = values['base-url'];
  } else if (values['base-url'] !== undefined) {
    throw usage('--base-url goes with --preset');
  }
  if (values.name !== undefined) form.name = values.name;
  if (values.id !== undefined) form.clientId = values.id;
  if (values['redirect-uri']) form.redirectUris = values['redirect-uri'];
  if (values['post-logout-uri']) form.postLogoutRedirectUris = values['post-logout-uri'];
  if (values.grant) {
    const unknown = values.grant.filter((g) => !(GRANT_TYPES as readonly string[]).includes(g));
    if (unknown.length > 0) throw usage(`unknown grant type(s): ${unknown.join(', ')} (allowed: ${GRANT_TYPES.join(', ')})`);
    form.grantTypes = values.grant as GrantType[];
  }
  if (values.public) form.public = true;
  form.firstParty = both('first-party', 'no-first-party');
  if (values['backchannel-logout-uri'] !== undefined && values['no-backchannel-logout-uri']) {
    throw usage('--backchannel-logout-uri and --no-backchannel-logout-uri contradict each other');
  }
  if (values['backchannel-logout-uri'] !== undefined) form.backchannelLogoutUri = values['backchannel-logout-uri'];
  if (values['no-backchannel-logout-uri']) form.backchannelLogoutUri = null;

  const method = values['auth-method'];
  if (method !== undefined) {
    if (!(AUTH_METHODS as readonly string[]).includes(method)) {
      throw usage(`unknown --auth-method ${method} (one of: ${AUTH_METHODS.join(', ')}; a client without a secret is --public)`);
    }
    form.tokenEndpointAuthMethod = method as (typeof AUTH_METHODS)[number];
  }
  // An empty value removes them.
  if (values['jwks-uri'] !== undefined) form.jwksUri = values['jwks-uri'].trim() || null;
  if (values.scope !== undefined) form.scope = values.scope.trim() || null;

  if (values.resource && values['no-resources']) throw usage('--resource and --no-resources contradict each other');
  if (values.resource) form.allowedResources = parseResources(values.resource);
  if (values['no-resources']) form.allowedResources = {};

  const roles = values['access-role'];
  const departments = values['access-department']?.map((d) => {
    if (!/^\d+$/.test(d.trim())) throw usage(`--access-department ${d}: a DingTalk department id (a number)`);
    return Number(d);
  });
  if ((roles || departments) && values['no-access-policy'])
    throw usage('--access-role/--access-department and --no-access-policy contradict each other');
  // The form takes the whole policy: an option left out keeps the current list.
  if (roles || departments)
    form.accessPolicy = {
      roles: roles ?? current?.accessPolicy.roles ?? [],
      departments: departments ?? current?.accessPolicy.departments ?? [],
    };
  if (values['no-access-policy']) form.accessPolicy = { roles: [], departments: [] };

  const claims = values['id-token-claims']?.trim();
  if (claims !== undefined) {
    const names = claims
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean);
    if (claims !== 'all' && claims !== 'none' && names.length === 0) throw usage('--id-token-claims takes all, none or claim names (a,b)');
    form.idTokenClaims = claims === 'all' ? true : claims === 'none' ? null : names;
  }
  form.groupsIncludeDepartments = both('groups-include-departments', 'no-groups-include-departments');
  form.pkceRequired = both('pkce', 'no-pkce');
  if (values['service-role'] && values['no-service-roles']) throw usage('--service-role and --no-service-roles contradict each other');
  if (values['service-role']) form.serviceRoles = values['service-role'];
  if (values['no-service-roles']) form.serviceRoles = [];

  if (values.metadata !== undefined) {
    let metadata: unknown;
    try {
      metadata = JSON.parse(values.metadata);
    } catch {
      metadata = undefined;
    }
    if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) throw usage('--metadata must be a JSON object');
    const rest: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(metadata)) {
      const field = METADATA_FIELDS[key];
      const instead = METADATA_OPTIONS[key];
      if (instead) throw usage(`--metadata ${key}: ${instead}`);
      if (!field) {
        rest[key] = value;
        continue;
      }
      if (!fits(field, value)) throw usage(`--metadata ${key} must be ${field.shape}`);
      if (form[field.name] !== undefined) throw usage(`--metadata ${key} and ${field.option} set the same thing: give one`);
      (form as Record<string, unknown>)[field.name] = value;
    }
    if (Object.keys(rest).length > 0) form.extraMetadata = rest;
  }
  return form;
}

/**
 * `--metadata` keys the form owns: they become form fields, so the operations check them exactly
 * as the console's (README's `--metadata '{"access_policy": …}'` keeps working). Each value is
 * checked against that field of the client schema (admin/ops/client-schema.ts); `null` only
 * where it removes the setting.
 */
const METADATA_FIELDS: Record<string, { name: keyof ClientForm; option: string; shape: string; nullable?: true }> = {
  client_name: { name: 'name', option: '--name', shape: 'a string' },
  redirect_uris: { name: 'redirectUris', option: '--redirect-uri', shape: 'an array of URIs' },
  post_logout_redirect_uris: { name: 'postLogoutRedirectUris', option: '--post-logout-uri', shape: 'an array of URIs' },
  grant_types: { name: 'grantTypes', option: '--grant', shape: `an array of ${GRANT_TYPES.join(', ')}` },
  backchannel_logout_uri: { name: 'backchannelLogoutUri', option: '--backchannel-logout-uri', shape: 'a URI' },
  jwks_uri: { name: 'jwksUri', option: '--jwks-uri', shape: 'a URI or null', nullable: true },
  scope: { name: 'scope', option: '--scope', shape: 'a string of space-separated scopes or null', nullable: true },
  first_party: { name: 'firstParty', option: '--first-party', shape: 'true or false' },
  access_policy: { name: 'accessPolicy', option: '--access-role/--access-department', shape: '{ "roles": [names], "departments": [ids] }' },
  id_token_claims: { name: 'idTokenClaims', option: '--id-token-claims', shape: 'true or an array of claim names', nullable: true },
  groups_include_departments: { name: 'groupsIncludeDepartments', option: '--groups-include-departments', shape: 'true or false' },
  require_pkce: { name: 'pkceRequired', option: '--no-pkce', shape: 'true or false' },
  allowed_resources: { name: 'allowedResources', option: '--resource', shape: 'an object of resource URI → array of scopes' },
  service_roles: { name: 'serviceRoles', option: '--service-role', shape: 'an array of role names' },
};

/** Whether `value` is a valid `--metadata` value of a form field. */
function fits(field: (typeof METADATA_FIELDS)[string], value: unknown): boolean {
  if (value === null) return field.nullable === true;
  return value !== undefined && clientFormSchema.shape[field.name].safeParse(value).success;
}

/** `--metadata` keys derived from other settings or set by an option only, and what to do instead. */
const METADATA_OPTIONS: Record<string, string> = {
  client_id: 'use --id',
  client_secret: "the secret is generated (see 'clients rotate-secret')",
  token_endpoint_auth_method: 'use --auth-method or --public',
  application_type: 'follows --public and the redirect URIs',
  response_types: 'follow --grant',
  backchannel_logout_session_required: 'always true with --backchannel-logout-uri',
};

/** `--resource https://api=read,write` → { 'https://api': ['read', 'write'] }. */
function parseResources(values: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const value of values) {
    const match = /^(.+?)(?:=([^=]*))?$/.exec(value)!;
    const uri = match[1]!;
    if (!URL.canParse(uri)) throw usage(`--resource ${value}: not an absolute URI`);
    out[uri] = (match[2] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  return out;
}

function usage(message: string): AppError {
  return new AppError('cli.usage', message, { status: 400 });
}

/** parseArgs explains at length how to pass a value starting with '-'; its first sentence says what is wrong. */
function firstSentence(message: string): string {
  return /^.*?\.(?=\s|$)/.exec(message)?.[0].replace(/\.$/, '') ?? message;
}

/** A metadata list (grant_types) for the table; undefined when it is not a list. */
function stringsOf(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.map((item: unknown) => (typeof item === 'string' ? item : JSON.stringify(item))) : undefined;
}
