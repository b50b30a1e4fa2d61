/** The presets of the client form: Grafana, GitLab, Jenkins and Argo CD as docs/integrations/ configure them. */
import type { GrantType } from '../../oidc/clients.js';

export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';

export const PRESET_NAMES = ['grafana', 'gitlab', 'jenkins', 'argocd'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export interface Preset {
  label: string;
  redirectPaths: string[];
  postLogoutPaths: string[];
  grantTypes: GrantType[];
  tokenEndpointAuthMethod: Exclude<AuthMethod, 'none'>;
  idTokenClaims: true | string[] | null;
  groupsIncludeDepartments: boolean;
  /** false: the application cannot send PKCE, so its client opts out (`require_pkce: false`). */
  pkceRequired: boolean;
}

/** As the guides in docs/integrations/ configure each application. */
export const PRESETS: Record<PresetName, Preset> = {
  grafana: {
    label: 'Grafana',
    redirectPaths: ['/login/generic_oauth'],
    postLogoutPaths: ['/login'],
    grantTypes: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    idTokenClaims: ['roles', 'groups'],
    groupsIncludeDepartments: false,
    pkceRequired: true, // use_pkce = true
  },
  gitlab: {
    label: 'GitLab',
    redirectPaths: ['/users/auth/openid_connect/callback'],
    postLogoutPaths: [],
    grantTypes: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    idTokenClaims: null,
    groupsIncludeDepartments: false,
    pkceRequired: true, // omniauth openid_connect `pkce: true`
  },
  jenkins: {
    label: 'Jenkins',
    redirectPaths: ['/securityRealm/finishLogin'],
    postLogoutPaths: ['/OicLogout'],
    grantTypes: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'client_secret_post',
    idTokenClaims: ['groups', 'roles'],
    groupsIncludeDepartments: true,
    pkceRequired: true, // oic-auth "Enable PKCE" (pkceEnabled)
  },
  argocd: {
    label: 'Argo CD',
    redirectPaths: ['/auth/callback'],
    postLogoutPaths: ['/login'],
    grantTypes: ['authorization_code', 'refresh_token'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    idTokenClaims: ['groups'],
    groupsIncludeDepartments: false,
    // Argo CD's server signs in with its client secret and sends no PKCE (its
    // enablePKCEAuthentication is the secret-less browser flow instead).
    pkceRequired: false,
  },
};
