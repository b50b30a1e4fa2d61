/**
 * The admin console's world: the whole product with the DingTalk emulator; 王建国 (userid
 * manager7421) is an admin through ADMIN_DINGTALK_USERIDS, 李娜 an auditor through a `users` rule,
 * 陈晓明 an ordinary employee.
 */
import { Browser, decode, formOf, type Page } from '../../helpers/browser.js';
import { resetState } from '../../helpers/bootstrap.js';
import {
  exchangeCode,
  type LoginWorld,
  loginViaDingTalk,
  openDingTalkPicker,
  pickInDingTalk,
  registerRelyingParty,
  startLoginWorld,
  USERS,
} from '../../helpers/login-flow.js';

export const ADMIN = USERS.admin; // 王建国, userid manager7421
export const AUDITOR = 'a1Xk9PqR2sVb7nLmC3dEfgiEiE'; // 李娜, userid 0226103541652
export const AUDITOR_USERID = '0226103541652';
export const EMPLOYEE = USERS.boss; // 陈晓明: no admin role

export async function startAdminWorld(): Promise<LoginWorld> {
  await resetState();
  const world = await startLoginWorld({ adminDingtalkUserids: ['manager7421'] });
  const { roles } = world.server.services;
  await roles.addRole('auditor');
  await roles.addRule({ role: 'auditor', kind: 'users', value: [AUDITOR_USERID] });
  return world;
}

/** Signs `unionId` in to the console through the emulator; returns the page the console ends on. */
export async function consoleLogin(world: LoginWorld, unionId: string, browser = new Browser()): Promise<{ browser: Browser; page: Page }> {
  const picker = await openDingTalkPicker(world, browser, new URL(`${world.server.issuer}/admin/login`));
  const page = await pickInDingTalk(world, browser, picker, unionId);
  return { browser, page };
}

/** An access token for the admin API, from an app allowed the admin resource. */
export async function adminApiToken(world: LoginWorld, unionId: string, scope = 'openid admin:read admin:write'): Promise<string> {
  const resource = `${world.server.issuer}/admin`;
  const rp = await registerRelyingParty(world, { name: 'Admin automation', firstParty: true, allowedResources: { [resource]: [] } });
  const { callback, request } = await loginViaDingTalk(world, new Browser(), rp, unionId, { scope, resource });
  return (await exchangeCode(rp, callback, request)).access_token;
}

/** A JSON call to the admin API. */
export async function api(
  world: LoginWorld,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  // oxlint-disable-next-line typescript/no-explicit-any -- the API's JSON answer, read by key and checked by the assertions
): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const response = await fetch(`${world.server.issuer}/admin/api${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}

/** Submits the form of `page` whose action is `action`, with its hidden fields (the CSRF token) and `fields`. */
export async function submit(
  world: LoginWorld,
  browser: Browser,
  page: Page,
  action: string,
  fields: Record<string, string> = {},
): Promise<Page> {
  const html = [...page.text.matchAll(/<form\b[^>]*action="([^"]*)"[^>]*>[\s\S]*?<\/form>/g)].find((match) => decode(match[1]!) === action);
  if (!html) throw new Error(`no form with action ${action} on ${page.url}`);
  const form = formOf(html[0]);
  return browser.request(new URL(form.action, world.server.issuer).toString(), { form: { ...form.fields, ...fields } });
}

export async function accountIdOf(world: LoginWorld, unionId: string): Promise<string> {
  const account = await world.server.services.db.models.Account.findOne({ where: { unionId } });
  if (!account) throw new Error(`no account for ${unionId}`);
  return account.id;
}

/** The admin world with an admin API token for the admin, the auditor and an ordinary employee. */
export interface AdminApiWorld {
  world: LoginWorld;
  adminToken: string;
  auditorToken: string;
  employeeToken: string;
  adminId: string;
  employeeId: string;
}

export async function startAdminApiWorld(): Promise<AdminApiWorld> {
  const world = await startAdminWorld();
  return {
    world,
    adminToken: await adminApiToken(world, ADMIN),
    auditorToken: await adminApiToken(world, AUDITOR),
    employeeToken: await adminApiToken(world, EMPLOYEE),
    adminId: await accountIdOf(world, ADMIN),
    employeeId: await accountIdOf(world, EMPLOYEE),
  };
}
