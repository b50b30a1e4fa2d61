/**
 * What Grafana, GitLab, Jenkins (oic-auth) and Argo CD expect, each tested the way the app talks
 * to us (docs/integrations/<app>.md): claim names, where the claim sits, token endpoint
 * authentication, and the token request each one sends. Each client is registered by running the
 * guide's own `npx dingtalk-oidc clients add …` lines through the CLI, as a reader would.
 */
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { runClients } from '../../src/cli/clients.js';
import { resetState } from '../helpers/bootstrap.js';
import { Browser } from '../helpers/browser.js';
import { captureConsole } from '../helpers/cli.js';
import { shellCommands } from '../helpers/docs.js';
import {
  type LoginWorld,
  loginViaDingTalk,
  registerRelyingParty,
  type RelyingParty,
  relyingParty,
  startLoginWorld,
  USERS,
} from '../helpers/login-flow.js';

interface TokenResponse {
  access_token: string;
  id_token: string;
  refresh_token?: string;
  token_type: string;
  scope?: string;
}

async function tokenRequest(
  world: LoginWorld,
  rp: RelyingParty,
  body: Record<string, string>,
  style: 'basic' | 'post',
): Promise<{ status: number; json: TokenResponse & { error?: string } }> {
  const params = new URLSearchParams(body);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (style === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(rp.clientId)}:${encodeURIComponent(rp.clientSecret!)}`).toString('base64')}`;
  } else {
    params.set('client_id', rp.clientId);
    params.set('client_secret', rp.clientSecret!);
  }
  const response = await fetch(`${world.server.issuer}/token`, { method: 'POST', headers, body: params });
  return { status: response.status, json: (await response.json()) as TokenResponse & { error?: string } };
}

async function userinfo(world: LoginWorld, accessToken: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${world.server.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  expect(response.status).to.equal(200);
  return (await response.json()) as Record<string, unknown>;
}

/** Run `dingtalk-oidc clients <args>` in-process, on the server's configuration; its output. */
async function runCli(world: LoginWorld, args: string[]): Promise<string> {
  const { code, out, err } = await captureConsole(() => runClients(world.server.config, args));
  expect(code, `dingtalk-oidc clients ${args.join(' ')}: ${err}`).to.equal(0);
  return out;
}

/** The `npx dingtalk-oidc clients add …` lines of a guide, registered; each client's metadata. */
async function registerAsTheGuideSays(world: LoginWorld, guide: string): Promise<(RelyingParty & { metadata: Record<string, unknown> })[]> {
  const commands = shellCommands(`docs/integrations/${guide}.md`, 'npx dingtalk-oidc').filter(
    ([group, action]) => group === 'clients' && action === 'add',
  );
  expect(commands, `docs/integrations/${guide}.md registers its client`).to.have.lengthOf.above(0);
  const parties = [];
  for (const args of commands) {
    const created = JSON.parse(await runCli(world, [...args.slice(1), '--json'])) as { client_id: string; client_secret?: string };
    const metadata = (await world.server.services.clientStore.get(created.client_id))!.metadata;
    const redirectUri = (metadata.redirect_uris as string[])[0]!;
    parties.push({
      ...(await relyingParty(world, { clientId: created.client_id, clientSecret: created.client_secret, redirectUri })),
      metadata,
    });
  }
  return parties;
}

describe('application integrations', function () {
  let world: LoginWorld;
  /** The Argo CD guide's two clients (the second has a fixed id, so it is registered once). */
  let argocd: Awaited<ReturnType<typeof registerAsTheGuideSays>>;

  before(async function () {
    await resetState();
    world = await startLoginWorld();
    const warm = await registerRelyingParty(world, { name: 'warm-up', firstParty: true });
    await loginViaDingTalk(world, new Browser(), warm, USERS.admin);
    const { Account, Role, AccountRole } = world.server.services.db.models;
    const account = await Account.findOne({ where: { unionId: USERS.admin } });
    for (const name of ['grafana-editor', 'argocd-admins', 'jenkins-admins']) {
      const [role] = await Role.findOrCreate({ where: { name } });
      await AccountRole.findOrCreate({ where: { accountId: account!.id, roleId: role.id, source: 'manual', ruleId: null } });
    }
    argocd = await registerAsTheGuideSays(world, 'argocd');
  });

  after(async function () {
    await world?.close();
  });

  it('Grafana (generic_oauth): user:email is ignored, roles for role_attribute_path come from userinfo, secret in the body works', async function () {
    const rp = (await registerAsTheGuideSays(world, 'grafana'))[0]!;
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin, {
      scope: 'openid profile email roles user:email',
    });
    // Grafana's auth_style AutoDetect may send the secret in the body (InParams).
    const { status, json } = await tokenRequest(
      world,
      rp,
      {
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: rp.redirectUri,
        code_verifier: request.verifier,
      },
      'post',
    );
    expect(status).to.equal(200);
    expect(json.scope?.split(' ')).to.not.include('user:email');
    expect(json.refresh_token, 'use_refresh_token = true').to.be.a('string');
    const info = await userinfo(world, json.access_token);
    // login_attribute_path / name_attribute_path / email_attribute_path / role_attribute_path
    expect(info).to.include({ preferred_username: 'manager7421', name: '王建国', email: 'wangjianguo@yunqi-tech.cn' });
    expect(info.roles).to.include('grafana-editor');
  });

  it('GitLab (omniauth openid_connect): scope on the token request is tolerated, email is verified, sub is stable', async function () {
    const rp = (await registerAsTheGuideSays(world, 'gitlab'))[0]!;
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin, { scope: 'openid profile email' });
    const { status, json } = await tokenRequest(
      world,
      rp,
      {
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: rp.redirectUri,
        code_verifier: request.verifier,
        scope: 'openid profile email',
      },
      'basic',
    );
    expect(status).to.equal(200);
    const info = await userinfo(world, json.access_token);
    expect(info).to.include({ email: 'wangjianguo@yunqi-tech.cn', email_verified: true });
    expect(decodeJwt(json.id_token).sub).to.equal(info.sub);
  });

  it('Jenkins (oic-auth): client_secret_post, groups from userinfo for the groups field', async function () {
    const rp = (await registerAsTheGuideSays(world, 'jenkins'))[0]!;
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin, { scope: 'openid profile email roles' });
    const { status, json } = await tokenRequest(
      world,
      rp,
      {
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: rp.redirectUri,
        code_verifier: request.verifier,
      },
      'post',
    );
    expect(status).to.equal(200);
    const info = await userinfo(world, json.access_token);
    expect(info).to.include({ preferred_username: 'manager7421', name: '王建国', email: 'wangjianguo@yunqi-tech.cn' });
    expect(info.groups).to.include('jenkins-admins');
  });

  it('Argo CD: groups in the ID token through requestedIDTokenClaims (claims parameter), basic auth', async function () {
    const rp = argocd[0]!;
    const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, USERS.admin, {
      scope: 'openid profile email roles',
      claims: JSON.stringify({ id_token: { groups: { essential: true } } }),
    });
    const { status, json } = await tokenRequest(
      world,
      rp,
      {
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: rp.redirectUri,
        code_verifier: request.verifier,
      },
      'basic',
    );
    expect(status).to.equal(200);
    const claims = decodeJwt(json.id_token);
    expect(claims.groups).to.include('argocd-admins');
    expect(claims.email, 'only what was asked for').to.equal(undefined);
  });

  it('Argo CD CLI: a public client with PKCE and a loopback redirect, signing in with its own id', async function () {
    const cliClient = argocd[1];
    expect(cliClient!.clientId).to.equal('argo-cd-cli');
    expect(cliClient!.metadata.token_endpoint_auth_method).to.equal('none');
    expect(cliClient!.metadata.application_type).to.equal('native');
    expect(cliClient!.redirectUri).to.equal('http://localhost:8085/auth/callback');
    const { callback, request } = await loginViaDingTalk(world, new Browser(), cliClient!, USERS.admin, {
      scope: 'openid profile email roles',
    });
    const response = await fetch(`${world.server.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: 'argo-cd-cli',
        code: callback.searchParams.get('code')!,
        redirect_uri: cliClient!.redirectUri,
        code_verifier: request.verifier,
      }),
    });
    expect(response.status).to.equal(200);
  });
});
