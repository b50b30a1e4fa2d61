/** The demo relying party's own page text by locale (the product's text is in errors/messages.ts). */
import type { Locale } from '../errors/messages.js';

const TEXT = {
  'zh-CN': {
    title: '登录演示',
    intro:
      '这是开发模式内置的演示应用（OpenID Connect 依赖方）。它像一个真正接入的应用那样，把您送到本身份提供方用钉钉登录，再展示它收到的内容。',
    stepsHeading: '演示的步骤',
    step1: '演示应用生成 PKCE（S256）、state 和 nonce，跳转到授权端点。',
    step2: '您用钉钉登录，并同意授权。',
    step3: '演示应用用授权码换取令牌，校验 ID 令牌，再调用 userinfo。',
    step4: '“退出登录”走 RP 发起的登出，然后回到本页。',
    clientLabel: '客户端',
    redirectLabel: '回调地址',
    start: '使用钉钉登录演示',
    home: '返回首页',
    resultTitle: '登录成功',
    resultIntro: '演示应用收到了令牌，并校验了 ID 令牌（签名、签发者、受众、有效期和 nonce）。页面上不显示令牌本身。',
    tokensHeading: '收到的令牌',
    idToken: 'ID 令牌',
    accessToken: '访问令牌',
    refreshToken: '刷新令牌',
    received: '已收到',
    notIssued: '未签发',
    expiresAt: '过期时间',
    grantedScope: '授予的 scope',
    refreshHint: '只有授权请求带 prompt=consent 时，offline_access 才会换来刷新令牌。',
    claimsHeading: 'ID 令牌声明',
    userinfoHeading: 'userinfo 响应',
    logout: '退出登录',
    signInAgain: '重新登录',
    errorTitle: '演示登录未完成',
    errorCode: '错误代码',
    tryAgain: '重试',
    backToDemo: '返回演示首页',
  },
  en: {
    title: 'Sign-in demo',
    intro:
      'This is a demo application (an OpenID Connect relying party) built into development mode. Like a real application, it sends you to this identity provider to sign in with DingTalk, then shows what it received.',
    stepsHeading: 'What the demo does',
    step1: 'The demo generates PKCE (S256), state and nonce, and goes to the authorization endpoint.',
    step2: 'You sign in with DingTalk and approve the request.',
    step3: 'The demo exchanges the code for tokens, checks the ID token and calls userinfo.',
    step4: '"Sign out" uses RP-initiated logout and comes back to this page.',
    clientLabel: 'Client',
    redirectLabel: 'Redirect URI',
    start: 'Try signing in',
    home: 'Back to home',
    resultTitle: 'Signed in',
    resultIntro:
      'The demo received tokens and checked the ID token (signature, issuer, audience, expiry and nonce). The tokens themselves are never shown.',
    tokensHeading: 'Tokens received',
    idToken: 'ID token',
    accessToken: 'Access token',
    refreshToken: 'Refresh token',
    received: 'received',
    notIssued: 'not issued',
    expiresAt: 'expires',
    grantedScope: 'Granted scope',
    refreshHint: 'offline_access yields a refresh token only when the authorization request has prompt=consent.',
    claimsHeading: 'ID token claims',
    userinfoHeading: 'userinfo response',
    logout: 'Sign out',
    signInAgain: 'Sign in again',
    errorTitle: 'The demo sign-in did not finish',
    errorCode: 'Error code',
    tryAgain: 'Try again',
    backToDemo: 'Back to the demo',
  },
} satisfies Record<Locale, Record<string, string>>;

export type DemoText = Record<keyof (typeof TEXT)['en'], string>;

export function demoText(locale: Locale): DemoText {
  return TEXT[locale];
}

/** What went wrong, by error code: OAuth codes from the provider, `demo.*` codes of our own. */
const ERRORS = {
  'zh-CN': {
    access_denied: '登录已取消或被拒绝。',
    login_required: '需要登录，但登录没有完成。',
    consent_required: '需要您同意授权，但授权没有完成。',
    interaction_required: '需要您操作，但操作没有完成。',
    temporarily_unavailable: '登录服务暂时不可用（例如钉钉没有响应）。请稍后重试。',
    'demo.session_expired': '这次演示登录已过期（10 分钟），或已经完成。请重新开始。',
    'demo.state_mismatch': '返回的 state 与这次登录不符，为安全起见已拒绝。请重新开始。',
    'demo.check_failed': '身份提供方的响应没有通过校验（state、nonce、PKCE 或 ID 令牌）。',
    'demo.timeout': '身份提供方响应超时。请稍后重试。',
    'demo.issuer_unreachable': '无法连接身份提供方。请确认服务正在运行，且签发者地址可以从服务器本身访问。',
    'demo.invalid_response': '身份提供方返回了无法处理的响应。',
    default: '演示登录没有完成。请重新开始。',
  },
  en: {
    access_denied: 'Sign-in was cancelled or refused.',
    login_required: 'Sign-in was needed but did not finish.',
    consent_required: 'Your approval was needed but was not given.',
    interaction_required: 'Your input was needed but the step did not finish.',
    temporarily_unavailable: 'Sign-in is temporarily unavailable (DingTalk may not be answering). Try again later.',
    'demo.session_expired': 'This demo sign-in has expired (10 minutes) or has already finished. Start again.',
    'demo.state_mismatch': 'The returned state does not belong to this sign-in, so it was refused for safety. Start again.',
    'demo.check_failed': "The identity provider's response failed a check (state, nonce, PKCE or ID token).",
    'demo.timeout': 'The identity provider took too long to answer. Try again later.',
    'demo.issuer_unreachable':
      'The identity provider could not be reached. Check that it is running and that the issuer URL is reachable from the server itself.',
    'demo.invalid_response': 'The identity provider sent a response the demo cannot use.',
    default: 'The demo sign-in did not finish. Start again.',
  },
} satisfies Record<Locale, Record<string, string>>;

export function demoErrorText(locale: Locale, code: string): string {
  const table: Record<string, string> = ERRORS[locale];
  return table[code] ?? ERRORS[locale].default;
}
