/** User-facing text by locale. Pages get text from here, never from upstream or internal messages. */
export type Locale = 'zh-CN' | 'en';

const TEXT = {
  'zh-CN': {
    productName: '钉钉统一登录',
    home: '首页',
    errorTitle: '出错了',
    errorGeneric: '请求无法完成。请返回应用重新登录。',
    errorNotFound: '页面不存在。',
    errorCode: '错误代码',
    tryAgain: '重试',
    backToApp: '返回应用',
    logoutTitle: '退出登录',
    logoutQuestion: '确定要退出登录吗？',
    logoutConfirm: '退出登录',
    logoutCancel: '取消',
    loggedOutTitle: '已退出登录',
    loggedOutText: '您已安全退出。可以关闭此页面。',
    loginTitle: '登录',
    loginPending: '使用钉钉登录的功能正在建设中，暂时无法登录。',
    homeIntro: '此服务是基于钉钉账号的 OpenID Connect 身份提供方。',
    discovery: 'OpenID Connect 配置',
  },
  en: {
    productName: 'DingTalk Sign-In',
    home: 'Home',
    errorTitle: 'Something went wrong',
    errorGeneric: 'The request could not be completed. Go back to the application and sign in again.',
    errorNotFound: 'This page does not exist.',
    errorCode: 'Error code',
    tryAgain: 'Try again',
    backToApp: 'Back to the application',
    logoutTitle: 'Sign out',
    logoutQuestion: 'Do you want to sign out?',
    logoutConfirm: 'Sign out',
    logoutCancel: 'Cancel',
    loggedOutTitle: 'Signed out',
    loggedOutText: 'You have been signed out. You can close this page.',
    loginTitle: 'Sign in',
    loginPending: 'Sign-in with DingTalk is not available yet.',
    homeIntro: 'This service is an OpenID Connect identity provider for DingTalk accounts.',
    discovery: 'OpenID Connect configuration',
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
