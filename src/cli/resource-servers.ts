import type { Config } from '../config/schema.js';
import { openCli, printTable } from './context.js';
import { parseCommand, showHelp, unknownCommand } from './args.js';

const HELP = `Usage:
  dingtalk-oidc resource-servers add <identifier> [--name NAME] [--scope S]... [--format jwt|opaque]
                                     [--ttl SECONDS] [--alg RS256|ES256]
  dingtalk-oidc resource-servers list [--json]
  dingtalk-oidc resource-servers remove <identifier>

<identifier> is the absolute URI clients send as \`resource\` (RFC 8707); it becomes the token's \`aud\`.
JWT access tokens follow RFC 9068 and verify offline with /jwks.`;

export async function runResourceServers(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    name: { type: 'string' },
    scope: { type: 'string', multiple: true },
    format: { type: 'string' },
    ttl: { type: 'string' },
    alg: { type: 'string' },
    json: { type: 'boolean' },
  });
  const [action, identifier] = positionals;
  if (values.help || !action) return showHelp(HELP, values.help);
  if (values.format && !['jwt', 'opaque'].includes(values.format)) {
    console.error('--format must be jwt or opaque');
    return 1;
  }
  if (values.alg && !['RS256', 'ES256'].includes(values.alg)) {
    console.error('--alg must be RS256 or ES256');
    return 1;
  }
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0)) {
    console.error('--ttl must be a whole number of seconds');
    return 1;
  }
  const cli = await openCli(config);
  try {
    switch (action) {
      case 'add': {
        if (!identifier) {
          console.error('resource-servers add needs an identifier');
          return 1;
        }
        const server = await cli.clientStore.addResourceServer({
          identifier,
          name: values.name,
          scopes: values.scope?.flatMap((s) => s.split(/\s+/)).filter(Boolean),
          tokenFormat: values.format as 'jwt' | 'opaque' | undefined,
          accessTokenTtl: ttl,
          signingAlg: values.alg as 'RS256' | 'ES256' | undefined,
        });
        console.log(`registered ${server.identifier} (${server.tokenFormat}, scopes: ${server.scopes.join(' ') || '-'})`);
        return 0;
      }
      case 'list': {
        const servers = await cli.clientStore.listResourceServers();
        if (values.json) console.log(JSON.stringify(servers, null, 2));
        else
          printTable(
            servers.map((s) => ({
              identifier: s.identifier,
              name: s.name,
              scopes: s.scopes,
              format: s.tokenFormat,
              ttl: s.accessTokenTtl,
            })),
          );
        return 0;
      }
      case 'remove': {
        const done = identifier ? await cli.clientStore.removeResourceServer(identifier) : false;
        console.log(done ? `removed ${identifier}` : `no resource server ${identifier ?? '(missing identifier)'}`);
        return done ? 0 : 1;
      }
      default:
        return unknownCommand(`unknown action "${action}"`, HELP);
    }
  } finally {
    await cli.close();
  }
}
