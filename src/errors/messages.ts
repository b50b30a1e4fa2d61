/** User-facing text by locale. Pages get text from here, never from upstream or internal messages. */
export type Locale = 'zh-CN' | 'en';

const TEXT = {
  'zh-CN': {
    productName: '钉钉统一登录',
    home: '首页',
    errorTitle: '出错了',
    errorGeneric: '请求无法完成。请返回应用重新登录。',
    errorNotFound: '页面不存在。',
    errorCode: '错误代码：',
    noAccessTitle: '无法登录',
    useAnotherAccount: '使用其他账号登录',
    tryAgain: '重试',
    backToApp: '返回应用',
    logoutTitle: '退出登录',
    logoutQuestion: '确定要退出钉钉统一登录吗？退出后，使用它登录的应用需要您重新登录。',
    logoutConfirm: '退出登录',
    logoutCancel: '取消',
    loggedOutTitle: '已退出登录',
    loggedOutText: '您已安全退出。可以关闭此页面。',
    loginTitle: '登录',
    loginLead: '使用钉钉账号登录 {app}',
    loginButton: '使用钉钉登录',
    loginFreeWaiting: '正在通过钉钉自动登录…',
    loginFreeFallback: '未能自动登录？请使用下方按钮。',
    loginHint: '登录即表示您同意向该应用提供您的钉钉身份信息。',
    cancel: '取消',
    consentTitle: '授权确认',
    consentLead: '{app} 请求访问您的以下信息：',
    consentApprove: '同意',
    consentDeny: '拒绝',
    consentRemember: '您的选择会被记住，下次登录该应用时不再询问。',
    consentResources: '{api}：{scopes}',
    signedInAs: '当前账号：{name}',
    homeIntro: '此服务是基于钉钉账号的 OpenID Connect 身份提供方。',
    discovery: 'OpenID Connect 配置',
    homeDemo: '体验演示应用登录',
    issuerLabel: '颁发者（issuer）：',
    waitTitle: '请稍候',
    waitText: '现在登录的人很多，钉钉需要排队处理。您的登录会在 {seconds} 秒后自动继续，请不要关闭此页面。',
    waitNow: '立即继续',
  },
  en: {
    productName: 'DingTalk Sign-In',
    home: 'Home',
    errorTitle: 'Something went wrong',
    errorGeneric: 'The request could not be completed. Go back to the application and sign in again.',
    errorNotFound: 'This page does not exist.',
    errorCode: 'Error code: ',
    noAccessTitle: 'You cannot sign in',
    useAnotherAccount: 'Use another account',
    tryAgain: 'Try again',
    backToApp: 'Back to the application',
    logoutTitle: 'Sign out',
    logoutQuestion: 'Sign out of DingTalk Sign-In? Applications that you signed in to with it will ask you to sign in again.',
    logoutConfirm: 'Sign out',
    logoutCancel: 'Cancel',
    loggedOutTitle: 'Signed out',
    loggedOutText: 'You have been signed out. You can close this page.',
    loginTitle: 'Sign in',
    loginLead: 'Use your DingTalk account to sign in to {app}',
    loginButton: 'Sign in with DingTalk',
    loginFreeWaiting: 'Signing you in through DingTalk…',
    loginFreeFallback: 'Not signed in automatically? Use the button below.',
    loginHint: 'Signing in shares your DingTalk identity with this application.',
    cancel: 'Cancel',
    consentTitle: 'Allow access',
    consentLead: '{app} would like to access:',
    consentApprove: 'Allow',
    consentDeny: 'Deny',
    consentRemember: 'Your choice is remembered: this application will not ask again for the same access.',
    consentResources: '{api}: {scopes}',
    signedInAs: 'Signed in as {name}',
    homeIntro: 'This service is an OpenID Connect identity provider for DingTalk accounts.',
    discovery: 'OpenID Connect configuration',
    homeDemo: 'Try the demo application',
    issuerLabel: 'Issuer:',
    waitTitle: 'Please wait',
    waitText:
      'Many people are signing in right now, and DingTalk takes them in turn. Your sign-in continues by itself in {seconds} seconds; please keep this page open.',
    waitNow: 'Continue now',
  },
} satisfies Record<Locale, Record<string, string>>;

export type Messages = Record<keyof (typeof TEXT)['en'], string>;

export function messages(locale: Locale): Messages {
  return TEXT[locale];
}

/** zh-CN unless the browser prefers English over Chinese (Accept-Language with q-values). */
export function pickLocale(acceptLanguage: string | undefined): Locale {
  if (!acceptLanguage) return 'zh-CN';
  const ranked = acceptLanguage
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const weight = q ? Number(q.slice(2)) : 1;
      return { tag, weight: Number.isFinite(weight) ? weight : 0, index };
    })
    .filter((entry) => entry.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.index - b.index);
  for (const { tag } of ranked) {
    if (tag === 'zh' || tag.startsWith('zh-')) return 'zh-CN';
    if (tag === 'en' || tag.startsWith('en-')) return 'en';
  }
  return 'zh-CN';
}

/** What a person reads for an error code; unknown codes get the generic text. */
const ERRORS: Record<string, Record<Locale, string>> = {
  'interaction.expired': {
    'zh-CN': '此登录请求已过期或已完成。请返回应用重新登录。',
    en: 'This sign-in request has expired or was already completed. Go back to the application and sign in again.',
  },
  'login.state_invalid': {
    'zh-CN': '登录链接已失效（已使用过、已过期或来自另一个浏览器）。请重新登录。',
    en: 'The sign-in link is no longer valid (already used, expired, or opened in another browser). Please sign in again.',
  },
  'dingtalk.denied': {
    'zh-CN': '您在钉钉中取消了登录授权。',
    en: 'You cancelled the sign-in in DingTalk.',
  },
  'dingtalk.not_in_corp': {
    'zh-CN': '您的钉钉账号不属于本组织，无法登录此应用。',
    en: 'Your DingTalk account is not a member of this organisation, so it cannot sign in here.',
  },
  'access.denied': {
    'zh-CN': '您没有使用此应用的权限。如需访问，请联系管理员。',
    en: 'You do not have access to this application. Ask your administrator if you need it.',
  },
  'account.disabled': {
    'zh-CN': '您的账号已被停用。如有疑问，请联系管理员。',
    en: 'Your account is disabled. Contact your administrator if you think this is a mistake.',
  },
  'dingtalk.unavailable': {
    'zh-CN': '暂时无法连接钉钉，请稍后重试。',
    en: 'DingTalk cannot be reached right now. Please try again in a moment.',
  },
  'service.unavailable': {
    'zh-CN': '登录服务暂时不可用，请稍后重试。',
    en: 'Sign-in is temporarily unavailable. Please try again in a moment.',
  },
  'dingtalk.invalid_code': {
    'zh-CN': '钉钉返回的登录码无效或已过期，请重新登录。',
    en: 'The sign-in code from DingTalk is invalid or has expired. Please sign in again.',
  },
  'dingtalk.error': {
    'zh-CN': '通过钉钉登录失败。请重试；如果问题持续，请联系管理员。',
    en: 'Signing in with DingTalk failed. Please try again; if it keeps failing, contact your administrator.',
  },
  'csrf.invalid': {
    'zh-CN': '页面已过期，请返回后重试。',
    en: 'This page has expired. Go back and try again.',
  },
  not_found: { 'zh-CN': '页面不存在。', en: 'This page does not exist.' },
};

export function errorText(locale: Locale, code: string): string {
  return ERRORS[code]?.[locale] ?? TEXT[locale].errorGeneric;
}

/** `{name}` placeholders filled with plain text (templates escape the result). */
export function format(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}

/** Plain words for each scope on the consent page. */
export const SCOPE_TEXT: Record<string, Record<Locale, string>> = {
  openid: { 'zh-CN': '识别您的身份', en: 'Know who you are' },
  profile: { 'zh-CN': '您的姓名、昵称、头像和用户名', en: 'Your name, nickname, picture and user name' },
  email: { 'zh-CN': '您的电子邮箱地址', en: 'Your email address' },
  phone: { 'zh-CN': '您的手机号码', en: 'Your mobile number' },
  roles: { 'zh-CN': '您的角色和分组', en: 'Your roles and groups' },
  dingtalk: { 'zh-CN': '您的钉钉账号标识、部门和职位', en: 'Your DingTalk ids, departments and title' },
  offline_access: { 'zh-CN': '在您离开后继续访问（保持登录）', en: 'Keep access while you are away (stay signed in)' },
};

/** Plain words for claims asked for one by one (claims parameter). */
export const CLAIM_TEXT: Record<string, Record<Locale, string>> = {
  name: { 'zh-CN': '姓名', en: 'name' },
  nickname: { 'zh-CN': '昵称', en: 'nickname' },
  picture: { 'zh-CN': '头像', en: 'picture' },
  preferred_username: { 'zh-CN': '用户名', en: 'user name' },
  email: { 'zh-CN': '电子邮箱', en: 'email address' },
  email_verified: { 'zh-CN': '邮箱是否已验证', en: 'whether the email is verified' },
  phone_number: { 'zh-CN': '手机号码', en: 'mobile number' },
  phone_number_verified: { 'zh-CN': '手机号是否已验证', en: 'whether the mobile number is verified' },
  roles: { 'zh-CN': '角色', en: 'roles' },
  groups: { 'zh-CN': '分组', en: 'groups' },
  dingtalk_union_id: { 'zh-CN': '钉钉 unionId', en: 'DingTalk unionId' },
  dingtalk_user_id: { 'zh-CN': '钉钉 userid', en: 'DingTalk userid' },
  dingtalk_corp_id: { 'zh-CN': '组织 corpId', en: 'organisation corpId' },
  departments: { 'zh-CN': '部门', en: 'departments' },
  title: { 'zh-CN': '职位', en: 'title' },
};
