/**
 * The one schema of a client's settings: the admin API's JSON body, the console's form and the
 * command line's options all become this shape, and the operations (clients.ts) check every form
 * against it before anything else. Absent fields keep their value on an update; `null` removes
 * what can be removed. Whether the settings make a valid client is oidc-provider's to say, later.
 */
import { z } from 'zod';
import { AppError } from '../../errors/app-error.js';
import { GRANT_TYPES, type GrantType } from '../../oidc/clients.js';
import { PRESET_NAMES } from './client-presets.js';

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

/** `null` counts as absent. */
const absentIfNull = <T extends z.ZodType>(schema: T) => z.preprocess((value) => (value === null ? undefined : value), schema.optional());
/** `''` counts as `null` (removes the setting). */
const nullIfBlank = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? null : value), schema.nullable().optional());

const text = (field: string) => z.string({ error: `${field} is a string` }).max(2000, { error: `${field} is a string` });
const flag = (field: string) => z.boolean({ error: `${field} is true or false` }).optional();
const stringList = (field: string) => {
  const error = `${field} is a list of strings`;
  return z.array(z.string({ error }).min(1, { error }).max(2000, { error }), { error }).max(50, { error });
};

export const clientFormSchema = z.object({
  name: absentIfNull(text('name')),
  clientId: absentIfNull(text('clientId')),
  preset: absentIfNull(z.enum(PRESET_NAMES, { error: `preset is one of ${PRESET_NAMES.join(', ')}` })),
  /** The application's base URL (`https://grafana.example.com`), for a preset. */
  baseUrl: absentIfNull(text('baseUrl')),
  redirectUris: stringList('redirectUris').optional(),
  postLogoutRedirectUris: stringList('postLogoutRedirectUris').optional(),
  backchannelLogoutUri: nullIfBlank(text('backchannelLogoutUri')),
  firstParty: flag('firstParty'),
  public: flag('public'),
  grantTypes: z
    .array(
      z.custom<GrantType>((value) => typeof value === 'string' && (GRANT_TYPES as readonly string[]).includes(value), {
        error: `grantTypes are among ${GRANT_TYPES.join(', ')}`,
      }),
      { error: 'grantTypes is a list of strings' },
    )
    .max(50, { error: 'grantTypes is a list of strings' })
    .optional(),
  /** `private_key_jwt` (no secret) needs `jwksUri`; a client cannot switch between a secret and none. */
  tokenEndpointAuthMethod: absentIfNull(
    z.enum(AUTH_METHODS, {
      error: 'tokenEndpointAuthMethod is client_secret_basic, client_secret_post or private_key_jwt (public: true for none)',
    }),
  ),
  /** Where a private_key_jwt client publishes its public keys. */
  jwksUri: nullIfBlank(text('jwksUri')),
  /** The OpenID scopes the client may ask for, space-separated; null or blank: any. */
  scope: nullIfBlank(text('scope')),
  /** Who may sign in: people with one of the roles or in one of the departments (and below); empty: everyone. */
  accessPolicy: z
    .object(
      {
        roles: stringList('accessPolicy.roles').optional(),
        departments: z
          .array(z.number().int().positive(), { error: 'accessPolicy.departments is a list of DingTalk department ids' })
          .optional(),
      },
      { error: 'accessPolicy is { roles?, departments? }' },
    )
    .optional(),
  /** `true` (every granted claim), a list of claim names, or null (only what the app asks for). */
  idTokenClaims: z
    .union([z.null(), z.literal(true), stringList('idTokenClaims')], { error: 'idTokenClaims is true, null or a list of claim names' })
    .optional(),
  groupsIncludeDepartments: flag('groupsIncludeDepartments'),
  allowedResources: z
    .record(z.string(), z.union([z.array(z.never()).length(0), stringList('allowedResources')]), {
      error: 'allowedResources maps resource URIs to scope lists',
    })
    .optional(),
  /** Roles the client's own client_credentials tokens carry (`admin`/`auditor`: a service account); null: none. */
  serviceRoles: z.preprocess((value) => (value === null ? [] : value), stringList('serviceRoles').optional()),
  /** false: this confidential client may leave out PKCE (software that cannot send it); default true. */
  pkceRequired: flag('pkceRequired'),
  /**
   * Further oidc-provider client metadata (the CLI's `--metadata`), laid over what the client has;
   * a null value removes that key. Keys a field above sets are refused: use the field.
   */
  extraMetadata: z.record(z.string(), z.unknown(), { error: 'further metadata is an object' }).optional(),
});

/** A client's settings as the operations take them. */
export type ClientForm = z.output<typeof clientFormSchema>;

/** The admin API's body: every setting but `extraMetadata` (the command line's `--metadata`). */
export const apiClientFormSchema = clientFormSchema.omit({ extraMetadata: true });

/** Checks `input` against the schema; the first problem is a 400 with `code`. */
export function parseClientForm(
  input: unknown,
  code: 'admin.invalid_request' | 'clients.invalid_metadata',
  schema: z.ZodType<ClientForm> = clientFormSchema,
): ClientForm {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new AppError(code, result.error.issues[0]?.message ?? 'invalid client settings', { status: 400 });
}
