import { expect } from 'chai';
import { messages, pickLocale } from '../../../src/errors/messages.js';

describe('page language', function () {
  it('is Chinese without Accept-Language', function () {
    expect(pickLocale(undefined)).to.equal('zh-CN');
    expect(pickLocale('')).to.equal('zh-CN');
  });

  it('is English when the browser prefers English', function () {
    expect(pickLocale('en-US,en;q=0.9')).to.equal('en');
    expect(pickLocale('fr-FR, en;q=0.5')).to.equal('en');
  });

  it('follows q-values, not the order of the header', function () {
    expect(pickLocale('en;q=0.3, zh-CN;q=0.9')).to.equal('zh-CN');
    expect(pickLocale('zh;q=0.1, en')).to.equal('en');
  });

  it('falls back to Chinese for other languages and for garbage', function () {
    expect(pickLocale('ja-JP')).to.equal('zh-CN');
    expect(pickLocale(';;;q=abc,,')).to.equal('zh-CN');
    expect(pickLocale('en;q=0')).to.equal('zh-CN');
  });

  it('has every text in both languages', function () {
    expect(Object.keys(messages('zh-CN')).sort()).to.deep.equal(Object.keys(messages('en')).sort());
  });
});
