import { expect } from 'chai';
import { escapeHtml, pickLanguage, renderLoginError, renderPicker } from '../../../src/emulator/login-page.js';
import { defaultSeed, parseSeed } from '../../../src/emulator/seed.js';

describe('emulator/login-page', () => {
  it('defaults to zh-CN and switches to English only when the browser prefers it', () => {
    expect(pickLanguage(undefined)).to.equal('zh-CN');
    expect(pickLanguage('fr-FR')).to.equal('zh-CN');
    expect(pickLanguage('en-US,en;q=0.9')).to.equal('en');
    expect(pickLanguage('zh-CN,zh;q=0.9,en;q=0.8')).to.equal('zh-CN');
    expect(pickLanguage('en;q=0.4,zh-TW;q=0.6')).to.equal('zh-CN');
    expect(pickLanguage('de,en;q=0.5')).to.equal('en');
  });

  it('escapes HTML', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).to.equal('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('renders one button per person and marks leavers and outsiders', () => {
    const users = parseSeed(defaultSeed()).users.map((user) => ({ ...user, openid: 'o' }));
    const html = renderPicker({
      lang: 'zh-CN',
      action: '/oauth2/auth',
      hidden: { state: '"><script>' },
      users,
      appName: 'app',
      corpName: '公司',
      departmentName: () => '部门',
    });
    expect(html.match(/name="unionId"/g)).to.have.length(users.length);
    expect(html).to.include('已离职').and.include('非本组织成员').and.include('name="decision" value="deny"');
    expect(html).not.to.include('<script>');
  });

  it('lists every problem on the error page', () => {
    const html = renderLoginError('en', [
      { 'zh-CN': '甲', en: 'first' },
      { 'zh-CN': '乙', en: 'second' },
    ]);
    expect(html).to.include('<li>first</li>').and.include('<li>second</li>');
  });
});
