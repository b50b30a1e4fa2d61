import type { EmulatorUser } from './state.js';

export type PageLanguage = 'zh-CN' | 'en';

/** Picks zh-CN or English from an Accept-Language header (highest q among zh*, en*; zh wins ties). */
export function pickLanguage(acceptLanguage: string | undefined): PageLanguage {
  let best: { lang: PageLanguage; q: number } | undefined;
  for (const part of (acceptLanguage ?? '').split(',')) {
    const [tag = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q) || q <= 0) continue;
    const lang: PageLanguage | undefined = tag.startsWith('zh') ? 'zh-CN' : tag.startsWith('en') ? 'en' : undefined;
    if (lang !== undefined && (best === undefined || q > best.q)) best = { lang, q };
  }
  return best?.lang ?? 'zh-CN';
}

const TEXT = {
  'zh-CN': {
    title: '钉钉登录（模拟器）',
    heading: '选择要登录的钉钉账号',
    badge: '钉钉模拟器 · 仅用于开发和测试',
    colon: '：',
    open: '（',
    close: '）',
    separator: '、',
    app: '应用',
    organisation: '组织',
    deny: '拒绝',
    left: '已离职',
    outsider: '非本组织成员',
    external: '外部联系人',
    inactive: '未激活',
    admin: '管理员',
    boss: '老板',
    errorTitle: '钉钉登录请求有误',
    errorLead: '无法继续登录：',
    consentNote: '授权后，该应用将获得您的钉钉个人信息（昵称、头像等）。',
    more: '另有 {n} 人未列出。',
  },
  en: {
    title: 'DingTalk login (emulator)',
    heading: 'Choose the DingTalk account to sign in with',
    badge: 'DingTalk emulator · for development and tests only',
    colon: ': ',
    open: ' (',
    close: ')',
    separator: ', ',
    app: 'Application',
    organisation: 'Organisation',
    deny: 'Deny',
    left: 'left the organisation',
    outsider: 'not a member',
    external: 'external contact',
    inactive: 'not activated',
    admin: 'admin',
    boss: 'boss',
    errorTitle: 'Invalid DingTalk login request',
    errorLead: 'The login cannot continue:',
    consentNote: 'If you agree, the application receives your DingTalk profile (nickname, avatar, …).',
    more: '{n} more people are not listed.',
  },
} as const;

/** A validation problem of the authorize request, in both languages. */
export interface LoginProblem {
  'zh-CN': string;
  en: string;
}

export function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function layout(lang: PageLanguage, title: string, body: string): string {
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#171a1d;background:#f2f3f5}
h1{font-size:1.3rem;margin:.5rem 0}.badge{display:inline-block;background:#fff3cd;color:#6b4e00;border-radius:4px;padding:.15rem .5rem;font-size:.8rem}
button{display:block;width:100%;margin:.5rem 0;padding:.75rem 1rem;font:inherit;font-size:1rem;text-align:left;cursor:pointer;background:#fff;border:1px solid #c9cdd4;border-radius:8px;color:#171a1d}
button:hover,button:focus-visible{border-color:#0f6fff;outline:none;box-shadow:0 0 0 3px rgba(15,111,255,.2)}
.deny{text-align:center;border-color:#c00;color:#b00000;margin-top:1rem}.meta{color:#51565d;font-size:.9rem}.tag{color:#7a5c00}
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/**
 * The user picker shown instead of a QR code: one submit button per person, plus Deny. A plain form,
 * no JavaScript; zh-CN by default and English when the browser prefers it ({@link pickLanguage}).
 */
export function renderPicker(params: {
  lang: PageLanguage;
  action: string;
  hidden: Record<string, string>;
  users: readonly EmulatorUser[];
  /** People of the organisation left off the page (a generated organisation of thousands). */
  notListed?: number;
  appName: string;
  corpName: string;
  departmentName: (deptId: number) => string | undefined;
}): string {
  const t = TEXT[params.lang];
  const hidden = Object.entries(params.hidden)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  const buttons = params.users
    .map((user) => {
      const tags: string[] = [];
      if (user.status === 'left') tags.push(t.left);
      if (user.status === 'outsider') tags.push(t.outsider);
      if (user.status === 'external') tags.push(t.external);
      if (user.status === 'member' && !user.active) tags.push(t.inactive);
      if (user.admin) tags.push(t.admin);
      if (user.boss) tags.push(t.boss);
      const departments = user.dept_id_list.map((id) => params.departmentName(id)).filter((name): name is string => name !== undefined);
      const detail = [user.title, departments.join('、')].filter((part) => part !== undefined && part !== '').join(' · ');
      return `<button type="submit" name="unionId" value="${escapeHtml(user.unionid)}">${escapeHtml(user.name)}${
        detail === '' ? '' : ` <span class="meta">${escapeHtml(detail)}</span>`
      }${tags.length === 0 ? '' : ` <span class="tag">${t.open}${escapeHtml(tags.join(t.separator))}${t.close}</span>`}</button>`;
    })
    .join('\n');
  return layout(
    params.lang,
    t.title,
    `<p class="badge">${t.badge}</p>
<h1>${t.heading}</h1>
<p class="meta">${t.app}${t.colon}${escapeHtml(params.appName)} · ${t.organisation}${t.colon}${escapeHtml(params.corpName)}</p>
<form method="post" action="${escapeHtml(params.action)}">
${hidden}
${buttons}
${params.notListed ? `<p class="meta">${t.more.replace('{n}', String(params.notListed))}</p>\n` : ''}<p class="meta">${t.consentNote}</p>
<button type="submit" name="decision" value="deny" class="deny">${t.deny}</button>
</form>`,
  );
}

/** A readable error page for a malformed authorize request. */
export function renderLoginError(lang: PageLanguage, problems: readonly LoginProblem[]): string {
  const t = TEXT[lang];
  const items = problems.map((problem) => `<li>${escapeHtml(problem[lang])}</li>`).join('\n');
  return layout(lang, t.errorTitle, `<h1>${t.errorTitle}</h1>\n<p>${t.errorLead}</p>\n<ul>\n${items}\n</ul>`);
}
