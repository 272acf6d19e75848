import { describe, expect, it } from 'vitest';
import type { Lang } from './format';
import { PLURALS, type PluralKey, plural } from './plural';

// What each message says for each count, a row a count: the columns are the messages below.
const COLUMNS = [
  ['en', 'targets'],
  ['ru', 'targets'],
  ['ru', 'targetsCreated'],
  ['ru', 'daysLeft'],
  ['en', 'daysLeft'],
] as const satisfies readonly (readonly [Lang, PluralKey])[];
const TABLE: [number, string[]][] = [
  [1, ['1 target', '1 цель', 'Создана 1 цель', 'остался 1 день', '1 day left']],
  [2, ['2 targets', '2 цели', 'Созданы 2 цели', 'осталось 2 дня', '2 days left']],
  [5, ['5 targets', '5 целей', 'Создано 5 целей', 'осталось 5 дней', '5 days left']],
  [11, ['11 targets', '11 целей', 'Создано 11 целей', 'осталось 11 дней', '11 days left']],
  [21, ['21 targets', '21 цель', 'Создана 21 цель', 'остался 21 день', '21 days left']],
  [22, ['22 targets', '22 цели', 'Созданы 22 цели', 'осталось 22 дня', '22 days left']],
  [25, ['25 targets', '25 целей', 'Создано 25 целей', 'осталось 25 дней', '25 days left']],
];

/** Every count of the table said in `lang` by `key`, and what the table expects for each. */
function column(lang: Lang, key: PluralKey): { said: string[]; expected: string[] } {
  const i = COLUMNS.findIndex(([l, k]) => l === lang && k === key);
  if (i < 0) throw new Error(`no column ${lang}.${key}`);
  return { said: TABLE.map(([n]) => plural(lang, PLURALS[key], n)), expected: TABLE.map(([, says]) => says[i]!) };
}

describe('plural forms', () => {
  it('counts targets in English: one for 1 only', () => {
    const { said, expected } = column('en', 'targets');
    expect(said).toEqual(expected);
  });

  it('counts targets in Russian: one for 1 and 21, few for 2 and 22, many for 5, 11 and 25', () => {
    const { said, expected } = column('ru', 'targets');
    expect(said).toEqual(expected);
  });

  it('agrees the Russian verb with the count', () => {
    for (const [lang, key] of [
      ['ru', 'targetsCreated'],
      ['ru', 'daysLeft'],
      ['en', 'daysLeft'],
    ] as const) {
      const { said, expected } = column(lang, key);
      expect(said, `${lang}.${key}`).toEqual(expected);
    }
  });

  it('takes zero as many in Russian and as other in English, fractions as other', () => {
    expect(plural('en', PLURALS.targets, 0)).toBe('0 targets');
    expect(plural('ru', PLURALS.targets, 0)).toBe('0 целей');
    expect(plural('ru', PLURALS.targets, 1.5)).toBe('1,5 цели');
    expect(plural('en', PLURALS.targets, 1.5)).toBe('1.5 targets');
  });

  it('writes large counts as the language groups digits', () => {
    expect(plural('en', PLURALS.targets, 10_000)).toBe('10,000 targets');
    expect(plural('ru', PLURALS.targets, 10_001)).toBe('10\u00a0001 цель');
  });

  it('has a {n} in every form of every message', () => {
    for (const [key, message] of Object.entries(PLURALS)) {
      for (const [lang, forms] of Object.entries(message)) {
        for (const [form, text] of Object.entries(forms)) expect(text, `${key}.${lang}.${form}`).toContain('{n}');
      }
    }
  });
  it('counts the channel messages by the same rules', () => {
    expect([1, 2, 5, 21].map((n) => plural('ru', PLURALS.retryIn, n))).toEqual([
      'Проверка была только что: повторите через 1 секунду.',
      'Проверка была только что: повторите через 2 секунды.',
      'Проверка была только что: повторите через 5 секунд.',
      'Проверка была только что: повторите через 21 секунду.',
    ]);
    expect(plural('en', PLURALS.retryIn, 1)).toBe('Tested a moment ago: try again in 1 second.');
    expect(plural('ru', PLURALS.maxTags, 20)).toBe('Не больше 20 тегов.');
    expect(plural('ru', PLURALS.maxTags, 21)).toBe('Не больше 21 тега.');
    expect(plural('ru', PLURALS.channels, 3)).toBe('3 канала');
    expect(plural('en', PLURALS.maxChars, 2048)).toBe('At most 2,048 characters.');
  });
});
