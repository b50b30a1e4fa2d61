import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { ClientView } from '../../src/admin/ops/clients.js';
import { cliUser } from '../../src/cli/context.js';
import { cli } from '../helpers/cli.js';
import { resetState, startTestServer, type TestServer } from '../helpers/bootstrap.js';

/** stderr without the runtime warning oidc-provider prints on Node.js 20. */
const problems = (stderr: string): string[] => stderr.split('\n').filter((line) => line.trim() && !line.includes('oidc-provider WARNING'));

async function add(args: string[]): Promise<{ client_id: string; client_secret?: string }> {
  const result = await cli(['clients', 'add', ...args, '--json']);
  expect(result.code, result.stderr).to.equal(0);
  return JSON.parse(result.stdout) as { client_id: string; client_secret?: string };
}

async function show(clientId: string): Promise<ClientView> {
  const result = await cli(['clients', 'show', clientId]);
  expect(result.code, result.stderr).to.equal(0);
  return JSON.parse(result.stdout) as ClientView;
}

describe('command line: clients through the admin operations', function () {
  this.timeout(120_000);
  let server: TestServer;

  before(async function () {
    await resetState();
    server = await startTestServer(); // registers the admin console's own client
  });

  after(async function () {
    await server?.close();
  });

  const lastAudit = async (type: string, clientId: string) =>
    (await server.services.db.models.AuditEvent.findAll({ where: { type }, order: [['id', 'DESC']] })).find(
      (event) => (event.details as { client?: string }).client === clientId,
    );

  it('lists the presets with their redirect paths', async function () {
    const table = await cli(['clients', 'presets']);
    expect(table.code, table.stderr).to.equal(0);
    for (const text of ['grafana', 'gitlab', 'jenkins', 'argocd', '/login/generic_oauth', '/securityRealm/finishLogin'])
      expect(table.stdout).to.contain(text);
    const json = JSON.parse((await cli(['clients', 'presets', '--json'])).stdout) as Record<string, { label: string }>;
    expect(json.argocd!.label).to.equal('Argo CD');
  });

  it('adds a client from a preset: redirect URIs, authentication method and ID token claims come from it', async function () {
    const { client_id: clientId, client_secret: secret } = await add([
      '--preset',
      'jenkins',
      '--base-url',
      'https://jenkins.example.test/',
    ]);
    expect(secret).to.be.a('string');
    const view = await show(clientId);
    expect(view).to.include({
      name: 'Jenkins',
      firstParty: true,
      tokenEndpointAuthMethod: 'client_secret_post',
      groupsIncludeDepartments: true,
      editable: true,
    });
    expect(view.redirectUris).to.deep.equal(['https://jenkins.example.test/securityRealm/finishLogin']);
    expect(view.postLogoutRedirectUris).to.deep.equal(['https://jenkins.example.test/OicLogout']);
    expect(view.idTokenClaims).to.deep.equal(['groups', 'roles']);
    expect(JSON.stringify(view)).to.not.contain(secret);
  });

  it('updates the given settings and keeps the absent ones', async function () {
    const { client_id: clientId } = await add([
      '--name',
      'Wiki',
      '--redirect-uri',
      'https://wiki.example.test/cb',
      '--backchannel-logout-uri',
      'https://wiki.example.test/bc',
      '--access-role',
      'staff',
      '--access-department',
      '300',
      '--id-token-claims',
      'roles',
    ]);
    const updated = await cli([
      'clients',
      'update',
      clientId,
      '--name',
      'Team wiki',
      '--access-department',
      '42',
      '--no-backchannel-logout-uri',
      '--first-party',
      '--groups-include-departments',
    ]);
    expect(updated.code, updated.stderr).to.equal(0);
    expect(updated.stdout).to.contain(`updated ${clientId}`);

    const view = await show(clientId);
    expect(view).to.include({
      name: 'Team wiki',
      firstParty: true,
      groupsIncludeDepartments: true,
      backchannelLogoutUri: null,
      tokenEndpointAuthMethod: 'client_secret_basic',
    });
    expect(view.redirectUris).to.deep.equal(['https://wiki.example.test/cb']);
    expect(view.grantTypes).to.deep.equal(['authorization_code', 'refresh_token']);
    expect(view.accessPolicy).to.deep.equal({ roles: ['staff'], departments: [42] });
    expect(view.idTokenClaims).to.deep.equal(['roles']);
  });

  it('gives tokens to the updated client: its new authentication method and service roles', async function () {
    const api = 'https://api.example.test/cli-clients';
    expect((await cli(['resource-servers', 'add', api, '--scope', 'read'])).code).to.equal(0);
    const { client_id: clientId, client_secret: secret } = await add([
      '--name',
      'Nightly job',
      '--grant',
      'client_credentials',
      '--resource',
      api,
    ]);
    const updated = await cli(['clients', 'update', clientId, '--auth-method', 'client_secret_post', '--service-role', 'reporting']);
    expect(updated.code, updated.stderr).to.equal(0);

    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret!,
        resource: api,
        scope: 'read',
      }),
    });
    const body = (await response.json()) as { access_token: string };
    expect(response.status, JSON.stringify(body)).to.equal(200);
    const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1]!, 'base64url').toString()) as { aud: string; roles?: string[] };
    expect(claims.aud).to.equal(api);
    expect(claims.roles).to.deep.equal(['reporting']);
  });

  it('adds a private_key_jwt client and updates its --jwks-uri and --scope through the operations, audited', async function () {
    const added = await add([
      '--name',
      'Key signer',
      '--grant',
      'client_credentials',
      '--auth-method',
      'private_key_jwt',
      '--jwks-uri',
      'https://signer.example.test/jwks',
      '--scope',
      'openid profile',
    ]);
    expect(added.client_secret).to.equal(undefined);
    const clientId = added.client_id;
    expect(await show(clientId)).to.include({
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwksUri: 'https://signer.example.test/jwks',
      scope: 'openid profile',
    });

    const updated = await cli(['clients', 'update', clientId, '--jwks-uri', 'https://signer.example.test/keys', '--scope', 'openid email']);
    expect(updated.code, updated.stderr).to.equal(0);
    expect(updated.stdout.trim()).to.equal(`updated ${clientId}: jwksUri, scope`);
    expect(await show(clientId)).to.include({
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwksUri: 'https://signer.example.test/keys',
      scope: 'openid email',
    });
    expect((await lastAudit('client.updated', clientId))!.details).to.deep.include({
      changed: ['jwksUri', 'scope'],
      jwksUri: 'https://signer.example.test/keys',
      scope: 'openid email',
    });

    const anyScope = await cli(['clients', 'update', clientId, '--scope', '']);
    expect(anyScope.code, anyScope.stderr).to.equal(0);
    expect(await show(clientId)).to.include({ scope: null, jwksUri: 'https://signer.example.test/keys' });

    const noKeys = await cli(['clients', 'update', clientId, '--jwks-uri', '']);
    expect(noKeys.code).to.equal(1);
    expect(problems(noKeys.stderr)).to.deep.equal(['error: invalid client: jwks or jwks_uri is mandatory for this client']);
    const toSecret = await cli(['clients', 'update', clientId, '--auth-method', 'client_secret_basic']);
    expect(toSecret.code).to.equal(1);
    expect(problems(toSecret.stderr)).to.deep.equal([
      `error: invalid client: client ${clientId} has no secret: it cannot switch to client_secret_basic`,
    ]);
    expect((await show(clientId)).jwksUri).to.equal('https://signer.example.test/keys');
  });

  it('lays --metadata over the other metadata (null removes a key) and checks the keys an option sets as that option', async function () {
    const { client_id: clientId } = await add([
      '--name',
      'Described',
      '--redirect-uri',
      'https://described.example.test/cb',
      '--metadata',
      '{"client_uri": "https://described.example.test", "scope": "openid"}',
    ]);
    const metadataOf = async () =>
      (JSON.parse((await cli(['clients', 'list', '--json'])).stdout) as { clientId: string; metadata: Record<string, unknown> }[]).find(
        (c) => c.clientId === clientId,
      )!.metadata;
    expect(await metadataOf()).to.deep.include({ client_uri: 'https://described.example.test', scope: 'openid' });
    expect((await show(clientId)).scope).to.equal('openid');

    const kept = await cli([
      'clients',
      'update',
      clientId,
      '--name',
      'Described too',
      '--metadata',
      '{"policy_uri": "https://described.example.test/policy"}',
    ]);
    expect(kept.code, kept.stderr).to.equal(0);
    expect(await metadataOf()).to.deep.include({
      client_uri: 'https://described.example.test',
      policy_uri: 'https://described.example.test/policy',
      scope: 'openid',
    });
    const removed = await cli(['clients', 'update', clientId, '--metadata', '{"client_uri": null, "scope": null}']);
    expect(removed.code, removed.stderr).to.equal(0);
    const after = await metadataOf();
    expect(after).to.not.have.any.keys('client_uri', 'scope');
    expect(after).to.include({ policy_uri: 'https://described.example.test/policy', client_name: 'Described too' });

    const cases: [string[], string][] = [
      [
        ['--scope', 'openid', '--metadata', '{"scope": "openid email"}'],
        'error: --metadata scope and --scope set the same thing: give one',
      ],
      [['--metadata', '{"jwks_uri": 42}'], 'error: --metadata jwks_uri must be a URI or null'],
      [
        ['--metadata', '{"client_secret": "mine"}'],
        "error: --metadata client_secret: the secret is generated (see 'clients rotate-secret')",
      ],
      [
        ['--metadata', '{"token_endpoint_auth_method": "none"}'],
        'error: --metadata token_endpoint_auth_method: use --auth-method or --public',
      ],
    ];
    for (const [args, message] of cases) {
      const refused = await cli(['clients', 'update', clientId, ...args]);
      expect(refused.code, args.join(' ')).to.equal(1);
      expect(problems(refused.stderr), args.join(' ')).to.deep.equal([message]);
    }
  });

  it('refuses to change a CLIENTS_FILE client or the admin console, with the operations’ message', async function () {
    const file = path.join(tmpdir(), `cli-clients-${process.pid}.json`);
    writeFileSync(
      file,
      JSON.stringify([{ client_id: 'file-app', client_name: 'From file', redirect_uris: ['https://file.example.test/cb'] }]),
    );
    const fromFile = await cli(['clients', 'update', 'file-app', '--name', 'Renamed'], { CLIENTS_FILE: file }).finally(() =>
      rmSync(file, { force: true }),
    );
    expect(fromFile.code).to.equal(1);
    expect(problems(fromFile.stderr)).to.deep.equal(['error: file-app comes from CLIENTS_FILE: change it there']);

    for (const args of [
      ['update', 'admin-console', '--name', 'Mine'],
      ['rotate-secret', 'admin-console'],
      ['remove', 'admin-console'],
    ]) {
      const refused = await cli(['clients', ...args]);
      expect(refused.code, args.join(' ')).to.equal(1);
      expect(problems(refused.stderr), args.join(' ')).to.deep.equal(['error: the admin console’s own client is managed by the server']);
    }
    expect((await show('admin-console')).name).to.equal('Admin console');
  });

  it('records add, update, rotate-secret and remove in the audit log as cli:<user>', async function () {
    const { client_id: clientId } = await add(['--name', 'Audited', '--grant', 'client_credentials']);
    expect((await cli(['clients', 'update', clientId, '--name', 'Audited too'])).code).to.equal(0);
    expect((await cli(['clients', 'rotate-secret', clientId, '--json'])).code).to.equal(0);
    const removed = await cli(['clients', 'remove', clientId]);
    expect(removed.stdout).to.contain(`removed ${clientId}`);

    for (const type of ['client.created', 'client.updated', 'client.secret_rotated', 'client.removed']) {
      const event = await lastAudit(type, clientId);
      expect(event, type).to.not.equal(undefined);
      expect(event!.actor, type).to.equal(cliUser());
      expect((event!.details as { via?: string }).via, type).to.equal('cli');
    }
    expect((await lastAudit('client.updated', clientId))!.details).to.deep.include({ changed: ['name'], name: 'Audited too' });
    expect(JSON.stringify((await lastAudit('client.secret_rotated', clientId))!.details)).to.not.match(/secret"\s*:/);
  });

  it('answers bad input with exit code 1 and one readable line, never a stack trace', async function () {
    const cases: [string[], RegExp][] = [
      [
        ['add', '--preset', 'wordpress', '--base-url', 'https://wp.example.test'],
        /^error: unknown preset "wordpress" \(one of: grafana, gitlab, jenkins, argocd\)$/,
      ],
      [['add', '--preset', 'grafana'], /^error: --preset grafana needs --base-url/],
      [
        ['add', '--preset', 'grafana', '--base-url', 'ftp://grafana.example.test'],
        /^error: invalid client: the preset needs the application’s base URL/,
      ],
      [['add', '--name', 'Bad', '--redirect-uri', 'not a url'], /^error: invalid client: .*redirect_uris/],
      [['add', '--name', 'Bad', '--colour', 'red'], /^error: Unknown option '--colour'/],
      [['add', '--name', 'Bad', '--id-token-claims', ','], /^error: --id-token-claims takes all, none or claim names/],
      [['update', 'no-such-client', '--name', 'X'], /^error: no client no-such-client$/],
      [['update', 'admin-console', '--preset', 'grafana'], /^error: --preset applies to clients add only$/],
      [['update', 'admin-console'], /^error: clients update needs at least one setting to change/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(['clients', ...args]);
      expect(result.code, args.join(' ')).to.equal(1);
      const lines = problems(result.stderr);
      expect(lines, args.join(' ')).to.have.length(1);
      expect(lines[0], args.join(' ')).to.match(message);
      expect(result.stderr, args.join(' ')).to.not.match(/\n\s+at /);
    }
  });
});
