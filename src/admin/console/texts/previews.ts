/** The console's texts for the login page previews. */
import { localeTexts } from './locale-texts.js';

export const previewsTexts = localeTexts(
  {
    previewsLead: '用户看到的页面，使用示例数据渲染。',
    previewZh: '中文',
    previewEn: 'English',
    previewLogin: '登录页',
    previewConsent: '授权确认页',
    previewWait: '排队等候页',
    previewError: '错误页',
    previewLogout: '退出确认页',
    previewLoggedOut: '已退出页',
  },
  {
    previewsLead: 'The pages people see, rendered with sample data.',
    previewZh: '中文',
    previewEn: 'English',
    previewLogin: 'Sign-in page',
    previewConsent: 'Consent page',
    previewWait: 'Please-wait page (sign-in burst)',
    previewError: 'Error page',
    previewLogout: 'Sign-out confirmation',
    previewLoggedOut: 'Signed-out page',
  },
);
