import type { Locale } from '../../../errors/messages.js';

/** One part of the console's texts: every key in both languages (a key missing from either, or only in one, fails to compile). */
export function localeTexts<const K extends string>(
  zh: Record<K, string>,
  en: NoInfer<Record<K, string>>,
): Record<Locale, Record<K, string>> {
  return { 'zh-CN': zh, en };
}
