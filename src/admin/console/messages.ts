/**
 * The admin console's text, zh-CN and en, one file per page in texts/ (the login pages' text stays
 * in errors/messages.ts). Templates get it all as `a`.
 */
import type { Locale } from '../../errors/messages.js';
import { commonTexts } from './texts/common.js';
import { accountsTexts } from './texts/accounts.js';
import { rolesTexts } from './texts/roles.js';
import { auditTexts } from './texts/audit.js';
import { clientsTexts } from './texts/clients.js';
import { sessionsTexts } from './texts/sessions.js';
import { keysTexts } from './texts/keys.js';
import { dingtalkTexts } from './texts/dingtalk.js';
import { eventsTexts } from './texts/events.js';
import { previewsTexts } from './texts/previews.js';

const TEXT = {
  'zh-CN': {
    ...commonTexts['zh-CN'],
    ...accountsTexts['zh-CN'],
    ...rolesTexts['zh-CN'],
    ...auditTexts['zh-CN'],
    ...clientsTexts['zh-CN'],
    ...sessionsTexts['zh-CN'],
    ...keysTexts['zh-CN'],
    ...dingtalkTexts['zh-CN'],
    ...eventsTexts['zh-CN'],
    ...previewsTexts['zh-CN'],
  },
  en: {
    ...commonTexts['en'],
    ...accountsTexts['en'],
    ...rolesTexts['en'],
    ...auditTexts['en'],
    ...clientsTexts['en'],
    ...sessionsTexts['en'],
    ...keysTexts['en'],
    ...dingtalkTexts['en'],
    ...eventsTexts['en'],
    ...previewsTexts['en'],
  },
};

export type AdminMessages = Record<keyof (typeof TEXT)['en'], string>;

export function adminMessages(locale: Locale): AdminMessages {
  return TEXT[locale];
}
