import type { Config } from '../config/schema.js';
import { SIGNING_ALGS, type SigningAlg } from '../oidc/keys.js';
import { openCli, printTable } from './context.js';
import { parseCommand, showHelp, unknownCommand } from './args.js';

const HELP = `Usage:
  dingtalk-oidc keys list [--json]
  dingtalk-oidc keys rotate [--alg RS256|ES256] [--now]
                                                 new key: published at once, signs after
                                                 oidc.keyActivationDelayMs (--now: at once, for a
                                                 compromised key); older keys stay published
  dingtalk-oidc keys retire <kid>                 stop publishing a key (its tokens stop verifying)

Running servers pick up a change within their key cache time (oidc.keyCacheMs).`;

export async function runKeys(config: Config, args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    alg: { type: 'string' },
    now: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const [action, kid] = positionals;
  if (values.help || !action) return showHelp(HELP, values.help);
  const alg = (values.alg ?? config.oidc.signingAlg) as SigningAlg;
  if (!SIGNING_ALGS.includes(alg)) {
    console.error(`--alg must be one of ${SIGNING_ALGS.join(', ')}`);
    return 1;
  }
  const cli = await openCli(config);
  try {
    switch (action) {
      case 'list': {
        const keys = await cli.keyStore.list();
        if (values.json) console.log(JSON.stringify(keys, null, 2));
        else
          printTable(
            keys.map((k) => ({
              kid: k.kid,
              alg: k.alg,
              status: k.current ? 'current' : k.pending ? 'pending' : k.status,
              created: k.createdAt,
              signs_from: k.activatesAt,
            })),
          );
        return 0;
      }
      case 'rotate': {
        const key = await cli.keyStore.rotate(alg, { immediate: values.now });
        await cli.notify('keys');
        console.log(
          key.current
            ? `new current ${key.alg} key: ${key.kid}`
            : `new ${key.alg} key: ${key.kid}, published now, signing from ${key.activatesAt.toISOString()}`,
        );
        return 0;
      }
      case 'retire': {
        if (!kid) {
          console.error('keys retire needs a kid (see `keys list`)');
          return 1;
        }
        const keys = await cli.keyStore.list();
        const target = keys.find((k) => k.kid === kid);
        if (target?.current) {
          console.error(`${kid} is the current ${target.alg} signing key: rotate first, then retire it once its tokens have expired`);
          return 1;
        }
        const done = await cli.keyStore.retire(kid);
        if (done) await cli.notify('keys');
        console.log(done ? `retired ${kid}` : `no active key ${kid}`);
        return done ? 0 : 1;
      }
      default:
        return unknownCommand(`unknown action "${action}"`, HELP);
    }
  } finally {
    await cli.close();
  }
}
