/** The console's texts for sessions and consents. */
import { localeTexts } from './locale-texts.js';

export const sessionsTexts = localeTexts(
  {
    done_session_revoked: '会话已结束：其应用的令牌已撤销，并已向登记了后端通道退出地址的应用发送退出通知。',
    done_consent_revoked: '授权同意已撤销，下次登录时会重新询问。',
    done_app_revoked: '该账号在此应用的授权和令牌已撤销，并已通知该应用退出。',
    revokeOne: '撤销',
    apps: '应用',
    revokeApp: '撤销该应用的授权',
    alsoConsent: '同时忘记授权同意',
    scopesGranted: '已同意的权限',
    sessionsNote: '会话按账号索引：每页包含若干账号（按最近登录排序）的全部会话。',
    clientFilter: '应用 client_id',
  },
  {
    done_session_revoked: 'The session is ended: its apps’ tokens are revoked and apps with a back-channel logout URI were told.',
    done_consent_revoked: 'The consent is revoked; it is asked again at the next sign-in.',
    done_app_revoked: 'The account’s grants and tokens at this app are revoked, and the app was told to log out.',
    revokeOne: 'Revoke',
    apps: 'Applications',
    revokeApp: 'Revoke this application’s access',
    alsoConsent: 'also forget the consent',
    scopesGranted: 'Consented scopes',
    sessionsNote: 'Sessions are indexed per account: a page holds every session of some accounts (most recent sign-in first).',
    clientFilter: 'Application client_id',
  },
);
