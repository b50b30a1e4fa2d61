import type { HealthCheck } from '../admin/ops/dingtalk-health.js';
import { usesEmulator } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Account } from '../db/models/account.js';
import { type CorpTokenCache, createDingTalk, createMemoryCorpTokenCache, upstreamFailureText } from '../dingtalk/index.js';
import { EMULATOR_PATH } from '../app/dingtalk.js';
import { adminServiceOf, cliUser, openServices } from './context.js';
import { runEvents } from './events.js';
import { parseCommand, showHelp, unknownCommand } from './args.js';

/** Exit code when at least one check failed (1 is bad usage, 2 an invalid configuration). */
export const CHECK_FAILED = 3;

const HELP = `Usage:
  dingtalk-oidc dingtalk check [--as ACCOUNT] [--json]
  dingtalk-oidc dingtalk events list|show|retry …   the event inbox (dingtalk events --help)

Tries the DingTalk calls the product needs with the configured app (DINGTALK_CLIENT_ID,
DINGTALK_CLIENT_SECRET, at DINGTALK_API_BASE_URL and DINGTALK_OAPI_BASE_URL), as the console's
DingTalk page does: the app token, then with the DingTalk identity of --as ACCOUNT (its id,
DingTalk userid or unionId) getbyunionid, user/get and department/get. Without --as only the
app-wide checks run. It also shows the event callback URL and when the last event arrived.
The app token is fetched afresh (not taken from the servers' cache), so the secret is really tried.

Prints ✓ passed, ✗ failed (with the error and DingTalk's own code), – not run.
Exit status: 0 when no check failed, ${CHECK_FAILED} when one failed, 1 when it cannot run.`;

const LABELS: Record<HealthCheck['name'], string> = {
  app_token: 'app token',
  users_me: 'users/me',
  getbyunionid: 'getbyunionid',
  user_get: 'user/get',
  department_get: 'department/get',
};

/** `dingtalk check`: the console's DingTalk permission check, from the command line; `dingtalk events …`: the event inbox. */
export async function runDingTalk(config: Config, args: string[]): Promise<number> {
  if (args[0] === 'events') return runEvents(config, args.slice(1));
  const { values, positionals } = parseCommand(args, {
    as: { type: 'string' },
    json: { type: 'boolean' },
  });
  const [action, extra] = positionals;
  if (values.help || !action) return showHelp(HELP, values.help);
  if (action !== 'check' || extra !== undefined) {
    return unknownCommand(`unknown command "dingtalk ${positionals.join(' ')}"`, HELP);
  }
  if (usesEmulator(config)) {
    // The built-in emulator lives inside a running server, with a secret made up at its start:
    // there is no DingTalk app here to check.
    console.error(
      `error: no DingTalk app is configured (DINGTALK_CLIENT_ID is not set), so the server signs in through its ` +
        `built-in emulator at ${config.issuer}${EMULATOR_PATH}, which runs inside the server and cannot be checked from here. ` +
        'Set DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET to check a DingTalk app ' +
        '(and DINGTALK_API_BASE_URL / DINGTALK_OAPI_BASE_URL to check another endpoint, such as a standalone emulator).',
    );
    return 1;
  }
  const dt = config.dingtalk;
  const target = {
    clientId: dt.clientId!,
    ...(dt.corpId === undefined ? {} : { corpId: dt.corpId }),
    apiBaseUrl: dt.apiBaseUrl,
    oapiBaseUrl: dt.oapiBaseUrl,
  };

  const services = await openServices(config);
  try {
    const account: Account | undefined = values.as === undefined ? undefined : await services.roles.findAccount(values.as);
    const { directory } = createDingTalk({
      clientId: target.clientId,
      clientSecret: dt.clientSecret ?? '',
      ...(dt.corpId === undefined ? {} : { corpId: dt.corpId }),
      loginBaseUrl: dt.loginBaseUrl,
      apiBaseUrl: dt.apiBaseUrl,
      oapiBaseUrl: dt.oapiBaseUrl,
      // Every call keeps the client's deadline; the check waits at most that long per attempt.
      timeoutMs: dt.timeoutMs,
      tokenCache: singleAttemptTokenCache(),
    });
    const health = await adminServiceOf(services, { dingtalk: directory }).dingtalkHealth(account?.id ?? cliUser());
    const checks = health.checks.map((check) => explain(check, account));
    const failed = checks.filter((check) => check.ok === false).length;
    const unreachable = checks.map((check) => check.unreachable).find(Boolean);

    if (values.json) {
      const as = account ? { id: account.id, name: account.name, userId: account.userId, unionId: account.unionId } : null;
      const report = { target, as, ...health, checks: checks.map(({ unreachable: _, upstream: __, ...check }) => check), failed };
      console.log(JSON.stringify(report, null, 2));
      return failed > 0 ? CHECK_FAILED : 0;
    }

    const at = target.apiBaseUrl === target.oapiBaseUrl ? target.apiBaseUrl : `${target.apiBaseUrl} (api) and ${target.oapiBaseUrl} (oapi)`;
    console.log(`DingTalk app ${target.clientId}${target.corpId ? ` (organisation ${target.corpId})` : ''} at ${at}`);
    console.log(
      account
        ? `as ${account.name} (userid ${account.userId ?? '?'}, account ${account.id})`
        : 'app-wide checks only: give --as <account> for the checks with a person’s DingTalk identity',
    );
    console.log('');
    const width = Math.max(...checks.map((check) => check.subject.length));
    for (const check of checks) {
      const mark = check.ok === true ? '✓' : check.ok === false ? '✗' : '–';
      console.log(`${mark} ${LABELS[check.name].padEnd(15)} ${check.subject.padEnd(width)}  ${check.error ?? ''}`.trimEnd());
    }
    console.log('');
    const secrets = health.eventToken && health.eventAesKey;
    if (health.eventMode === 'stream') {
      console.log('events: DingTalk Stream (DINGTALK_EVENT_MODE=stream), one connection per server process:');
      if (health.streamError) console.log(`  ${health.streamError}`);
      else if (!health.streamConnections?.length) console.log('  no server process has reported a connection (none running, or no Redis)');
      for (const { instance, status } of health.streamConnections ?? []) {
        const error = status.lastError ? `, last error ${status.lastError.code} at ${new Date(status.lastError.at).toISOString()}` : '';
        console.log(`  ${instance}: ${status.state} since ${new Date(status.since).toISOString()}${error}`);
      }
    }
    if (health.eventMode === 'http' || secrets) {
      console.log(
        `event callback URL: ${health.callbackUrl} ` +
          (secrets
            ? '(DINGTALK_EVENT_TOKEN and DINGTALK_EVENT_AES_KEY set)'
            : '(DINGTALK_EVENT_TOKEN / DINGTALK_EVENT_AES_KEY not set: events are off)'),
      );
    }
    console.log(`last event received: ${health.lastEventAt ? health.lastEventAt.toISOString() : 'none yet'}`);
    const passed = checks.filter((check) => check.ok === true).length;
    console.log(`\n${passed} passed, ${failed} failed, ${checks.length - passed - failed} not run`);
    if (unreachable) {
      const url = unreachable.host === 'api' ? target.apiBaseUrl : target.oapiBaseUrl;
      const setting = unreachable.host === 'api' ? 'DINGTALK_API_BASE_URL' : 'DINGTALK_OAPI_BASE_URL';
      console.error(`error: cannot reach DingTalk at ${url} (${unreachable.transport}): check ${setting}, the network and any proxy`);
    }
    return failed > 0 ? CHECK_FAILED : 0;
  } finally {
    await services.close();
  }
}

interface ExplainedCheck extends HealthCheck {
  /** Which host and what connection error, when the check failed because DingTalk was not reached. */
  unreachable?: { host: 'api' | 'oapi'; transport: string };
}

/**
 * A check as the command line says it: "you" of the console becomes the account of --as, and a
 * failure carries what DingTalk itself answered (its code, HTTP status and request id) or, when it
 * was not reached, the connection error.
 */
function explain(check: HealthCheck, account: Account | undefined): ExplainedCheck {
  if (check.name === 'users_me') {
    // users/me needs a person's own DingTalk token, from a sign-in: the sign-in is the proof.
    if (!account) return { ...check, subject: 'a sign-in', error: 'needs --as <account>' };
    return check.ok
      ? { ...check, subject: `sign-in of ${account.name}`, error: `last ${account.lastLoginAt!.toISOString()}` }
      : { ...check, subject: `sign-in of ${account.name}`, error: 'has not signed in through DingTalk yet' };
  }
  if (check.ok === null) {
    if (!account) return { ...check, error: 'needs --as <account>' };
    if (check.name === 'department_get') return { ...check, error: 'the account has no department' };
    return check;
  }
  if (check.ok || check.upstream === undefined) return check;
  const explained: ExplainedCheck = { ...check, error: `${check.error} (${upstreamFailureText(check.upstream)})` };
  if (check.upstream.unreachable) explained.unreachable = check.upstream.unreachable;
  return explained;
}

/**
 * A token cache of this run only: the token is fetched with the configured secret, not read from
 * the servers' shared cache. A failed fetch is not repeated for each following check (each would
 * wait for the same timeout); they fail with the same error.
 */
function singleAttemptTokenCache(): CorpTokenCache {
  const memory = createMemoryCorpTokenCache();
  let failure: { error: unknown } | undefined;
  return {
    get: () => memory.get(),
    async getOrRefresh(fetcher) {
      if (failure) throw failure.error;
      try {
        return await memory.getOrRefresh(fetcher);
      } catch (error) {
        failure = { error };
        throw error;
      }
    },
    invalidate: (token) => memory.invalidate(token),
  };
}
