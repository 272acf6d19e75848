// Messages with a count, in the plural form the language's rules pick (`Intl.PluralRules`):
// English has `one` and `other`; Russian `one` (1, 21, 101…), `few` (2–4, 22–24…), `many`
// (0, 5–20, 25…) and `other` (fractions: 1.5 цели). `{n}` is the count, grouped as the
// language writes numbers.

import type { Lang } from './format';

/** One message in every plural form its language has. */
export interface PluralMessage {
  en: { one: string; other: string };
  ru: { one: string; few: string; many: string; other: string };
}

// The entries share their shape, not their words: each is one message's own translations.
export const PLURALS = {
  /** The overview's count and an admin's view of a user. */
  targets: {
    en: { one: '{n} target', other: '{n} targets' },
    ru: { one: '{n} цель', few: '{n} цели', many: '{n} целей', other: '{n} цели' },
  },
  /** A certificate's remaining validity. */
  daysLeft: {
    en: { one: '{n} day left', other: '{n} days left' },
    ru: { one: 'остался {n} день', few: 'осталось {n} дня', many: 'осталось {n} дней', other: 'осталось {n} дня' },
  },
  /** An import's outcome, first half. */
  targetsCreated: {
    en: { one: 'Created {n} target', other: 'Created {n} targets' },
    ru: { one: 'Создана {n} цель', few: 'Созданы {n} цели', many: 'Создано {n} целей', other: 'Создано {n} цели' },
  },
  /** An import's outcome, second half (the targets are named in the first). */
  targetsUpdated: {
    en: { one: 'updated {n}', other: 'updated {n}' },
    ru: { one: 'обновлена {n}', few: 'обновлены {n}', many: 'обновлено {n}', other: 'обновлено {n}' },
  },
  /** How many channels the channels page lists. */
  channels: {
    en: { one: '{n} channel', other: '{n} channels' },
    ru: { one: '{n} канал', few: '{n} канала', many: '{n} каналов', other: '{n} канала' },
  },
  /** A length limit of a channel's field. */
  maxChars: {
    en: { one: 'At most {n} character.', other: 'At most {n} characters.' },
    ru: { one: 'Не длиннее {n} символа.', few: 'Не длиннее {n} символов.', many: 'Не длиннее {n} символов.', other: 'Не длиннее {n} символа.' },
  },
  /** A limit of tags (a channel's message tags, its routing tags). */
  maxTags: {
    en: { one: 'At most {n} tag.', other: 'At most {n} tags.' },
    ru: { one: 'Не больше {n} тега.', few: 'Не больше {n} тегов.', many: 'Не больше {n} тегов.', other: 'Не больше {n} тега.' },
  },
  /** A limit of a webhook's custom headers. */
  maxHeaders: {
    en: { one: 'At most {n} header.', other: 'At most {n} headers.' },
    ru: { one: 'Не больше {n} заголовка.', few: 'Не больше {n} заголовков.', many: 'Не больше {n} заголовков.', other: 'Не больше {n} заголовка.' },
  },
  /** A channel tested too recently (429). */
  retryIn: {
    en: { one: 'Tested a moment ago: try again in {n} second.', other: 'Tested a moment ago: try again in {n} seconds.' },
    ru: {
      one: 'Проверка была только что: повторите через {n} секунду.',
      few: 'Проверка была только что: повторите через {n} секунды.',
      many: 'Проверка была только что: повторите через {n} секунд.',
      other: 'Проверка была только что: повторите через {n} секунды.',
    },
  },
} satisfies Record<string, PluralMessage>;

export type PluralKey = keyof typeof PLURALS;

const LOCALES: Record<Lang, string> = { en: 'en', ru: 'ru' };
const rules = new Map<Lang, Intl.PluralRules>();
const numbers = new Map<Lang, Intl.NumberFormat>();

function cached<T>(map: Map<Lang, T>, lang: Lang, make: (locale: string) => T): T {
  let v = map.get(lang);
  if (!v) {
    v = make(LOCALES[lang]);
    map.set(lang, v);
  }
  return v;
}

/** `message` in `lang` for the count `n`: `plural('ru', PLURALS.targets, 22)` → `22 цели`. */
export function plural(lang: Lang, message: PluralMessage, n: number): string {
  const forms: Partial<Record<Intl.LDMLPluralRule, string>> & { other: string } = message[lang];
  const category = cached(rules, lang, (l) => new Intl.PluralRules(l)).select(n);
  const template = forms[category] ?? forms.other;
  return template.replace('{n}', cached(numbers, lang, (l) => new Intl.NumberFormat(l)).format(n));
}
