import { expect } from 'chai';
import type { InboxItem } from '../../../src/accounts/inbox/index.js';
import type { InboxStatus } from '../../../src/db/models/inbox-event.js';
import { formatDate } from '../../../src/admin/console/render.js';
import { Browser } from '../../helpers/browser.js';
import { cli } from '../../helpers/cli.js';
import { CORP_ID, type LoginWorld } from '../../helpers/login-flow.js';
import { ADMIN, AUDITOR, accountIdOf, adminApiToken, api, consoleLogin, startAdminWorld, submit } from './harness.js';

describe('the DingTalk event inbox for operators: console, admin API, command line', function () {
  this.timeout(60_000);
  let world: LoginWorld;
  let admin: Browser;
  let adminId: string;
  let adminToken: string;
  let auditorToken: string;
  let made = 0;

  before(async function () {
    world = await startAdminWorld();
    admin = (await consoleLogin(world, ADMIN)).browser;
    adminId = await accountIdOf(world, ADMIN);
    adminToken = await adminApiToken(world, ADMIN);
    auditorToken = await adminApiToken(world, AUDITOR, 'openid admin:read');
  });

  after(async function () {
    await world?.close();
  });

  const url = (path: string) => `${world.server.issuer}${path}`;
  const models = () => world.server.services.db.models;

  /** An event whose retries ran out, as the worker leaves it: a profile re-read DingTalk kept refusing. */
  async function failedEvent(status: InboxStatus = 'failed', type: string | null = 'user_modify_org'): Promise<string> {
    made += 1;
    const id = `stream-evt-${Date.now().toString(36)}-${made}`;
    await models().InboxEvent.create({
      id,
      transport: 'stream',
      type,
      corpId: CORP_ID,
      userIds: ['nobody-here'],
      occurredAt: new Date(),
      payload: { userId: ['nobody-here'] },
      status,
      reason: type === null ? 'data is not JSON' : 'dingtalk.unavailable: DingTalk did not answer',
      urgentDoneAt: new Date(),
      attempts: type === null ? 0 : 10,
      nextAttemptAt: new Date(),
      finishedAt: new Date(),
    });
    return id;
  }

  async function settled(id: string): Promise<InboxItem> {
    const until = Date.now() + 20_000;
    for (;;) {
      const item = await world.server.services.inbox.get(id);
      if (item && item.status !== 'pending') return item;
      if (Date.now() > until) throw new Error(`still pending: ${JSON.stringify(item)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const lastAudit = async () =>
    (await models().AuditEvent.findAll({ where: { type: 'inbox.retry' }, order: [['id', 'DESC']], limit: 1 }))[0];

  describe('admin API', function () {
    it('lists the inbox by status, newest first, with the reason, counts and paging', async function () {
      const older = await failedEvent();
      const newer = await failedEvent();
      await failedEvent('done');
      const failed = await api(world, auditorToken, 'GET', '/events?status=failed&pageSize=1');
      expect(failed.status).to.equal(200);
      expect(failed.json).to.deep.include({ page: 1, pageSize: 1 });
      expect(failed.json.total).to.be.at.least(2);
      expect(failed.json.counts.failed).to.equal(failed.json.total);
      expect(failed.json.counts.done).to.be.at.least(1);
      expect(failed.json.items[0]).to.deep.include({
        id: newer,
        status: 'failed',
        type: 'user_modify_org',
        reason: 'dingtalk.unavailable: DingTalk did not answer',
        attempts: 10,
      });
      const second = await api(world, auditorToken, 'GET', '/events?status=failed&pageSize=1&page=2');
      expect(second.json.items[0].id).to.equal(older);
      expect((await api(world, auditorToken, 'GET', `/events/${encodeURIComponent(older)}`)).json).to.deep.include({
        id: older,
        status: 'failed',
      });
      expect((await api(world, auditorToken, 'GET', '/events/nope')).status).to.equal(404);
      const bad = await api(world, auditorToken, 'GET', '/events?status=broken');
      expect(bad.status).to.equal(400);
      expect(bad.json.code).to.equal('admin.invalid_filter');
    });

    it('retries a failed event: pending again, taken by the worker, audited; an auditor may not', async function () {
      const id = await failedEvent();
      expect((await api(world, auditorToken, 'POST', `/events/${encodeURIComponent(id)}/retry`)).status).to.equal(403);
      const retried = await api(world, adminToken, 'POST', `/events/${encodeURIComponent(id)}/retry`);
      expect(retried.status).to.equal(200);
      expect(retried.json).to.deep.include({ id, status: 'pending', attempts: 0 });
      // Nobody with that userid has an account: the re-read has nothing to do and succeeds.
      expect(await settled(id)).to.deep.include({ status: 'done', attempts: 1, reason: null });
      const audit = await lastAudit();
      expect(audit).to.deep.include({ actor: adminId });
      expect(audit!.details).to.deep.include({ via: 'api', eventId: id, previousStatus: 'failed', previousAttempts: 10 });
    });

    it('refuses to retry an unreadable or a done event with 409', async function () {
      const unreadable = await failedEvent('failed', null);
      const refused = await api(world, adminToken, 'POST', `/events/${encodeURIComponent(unreadable)}/retry`);
      expect(refused.status).to.equal(409);
      expect(refused.json.code).to.equal('inbox.not_retryable');
      const done = await failedEvent('done');
      expect((await api(world, adminToken, 'POST', `/events/${encodeURIComponent(done)}/retry`)).status).to.equal(409);
    });
  });

  describe('console', function () {
    it('lists failed events with the reason and a Retry button, and filters by status', async function () {
      const id = await failedEvent();
      const page = await admin.request(url('/admin/events?status=failed'));
      expect(page.status).to.equal(200);
      expect(page.text).to.include('dingtalk.unavailable: DingTalk did not answer');
      expect(page.text).to.include(`/admin/events/${encodeURIComponent(id)}/retry`);
      expect(page.text).to.include('aria-current="page"');
      const done = await admin.request(url('/admin/events?status=done'));
      expect(done.text).not.to.include(`/admin/events/${encodeURIComponent(id)}/retry`);
      const { browser: englishAdmin } = await consoleLogin(world, ADMIN, new Browser({ 'accept-language': 'en-US,en;q=0.9' }));
      const english = await englishAdmin.request(url('/admin/events?status=failed'));
      expect(english.text).to.include('>Retry<').and.include('Failed');
      expect(page.text).to.include('重试').and.include('失败');
    });

    it('retries from the form: CSRF-checked, audited with the admin as actor, done by the worker', async function () {
      const id = await failedEvent();
      const forged = await admin.request(url(`/admin/events/${encodeURIComponent(id)}/retry`), { form: { _csrf: 'forged' } });
      expect(forged.status).to.equal(403);
      expect(await world.server.services.inbox.get(id)).to.deep.include({ status: 'failed' });

      const list = await admin.request(url('/admin/events?status=failed'));
      const retried = await submit(world, admin, list, `/admin/events/${encodeURIComponent(id)}/retry`);
      expect(retried.status).to.equal(302);
      expect(retried.headers.get('location')).to.equal('/admin/events?done=event_retried&status=failed');
      expect(await settled(id)).to.deep.include({ status: 'done' });
      const audit = await lastAudit();
      expect(audit).to.deep.include({ actor: adminId });
      expect(audit!.details).to.deep.include({ via: 'console', eventId: id });
    });

    it('shows on the DingTalk page when the last event arrived (any event, from the inbox), with a link to the inbox', async function () {
      const id = await failedEvent('failed', null); // unreadable: it changed no account, yet it arrived
      const item = (await world.server.services.inbox.get(id))!;
      const page = await admin.request(url('/admin/dingtalk'));
      expect(page.text).to.include(formatDate(item.receivedAt)).and.include('href="/admin/events"');
    });

    it('shows the inbox counts on the dashboard', async function () {
      const page = await admin.request(url('/admin'));
      expect(page.text).to.include('/admin/events?status=failed');
    });
  });

  describe('command line', function () {
    // Each run of the command line starts a process (a few seconds on a busy machine): few runs.
    it('dingtalk events list --status failed shows the reason; retry puts the event back for the server', async function () {
      this.timeout(120_000);
      const id = await failedEvent();
      const listed = await cli(['dingtalk', 'events', 'list', '--status', 'failed']);
      expect(listed.code, listed.stderr).to.equal(0);
      expect(listed.stdout).to.match(
        new RegExp(`${id}\\s.*user_modify_org\\s+stream\\s+failed\\s+10\\s+dingtalk.unavailable: DingTalk did not answer`),
      );

      const retried = await cli(['dingtalk', 'events', 'retry', id]);
      expect(retried.code, retried.stderr).to.equal(0);
      expect(retried.stdout).to.include('pending again');
      // The running server's worker takes it (the command line runs no worker of its own).
      expect(await settled(id)).to.deep.include({ status: 'done' });
      const audit = await lastAudit();
      expect(audit!.actor).to.match(/^cli/);
      expect(audit!.details).to.deep.include({ via: 'cli', eventId: id });
    });

    it('says what is wrong with a bad status, in one line', async function () {
      this.timeout(120_000);
      const bad = await cli(['dingtalk', 'events', 'list', '--status', 'broken']);
      expect(bad.code).to.equal(1);
      expect(bad.stderr.trim().split('\n').at(-1)).to.equal('error: status is one of pending, done, failed, ignored');
    });
  });
});
