import { describe, expect, it } from 'vitest';
import { PLURALS, plural } from './plural';

const COUNTS = [1, 2, 5, 11, 21, 22, 25];

describe('plural forms', () => {
  it('counts targets in English: one for 1 only', () => {
    expect(COUNTS.map((n) => plural('en', PLURALS.targets, n))).toEqual([
      '1 target',
      '2 targets',
      '5 targets',
      '11 targets',
      '21 targets',
      '22 targets',
      '25 targets',
    ]);
  });

  it('counts targets in Russian: one for 1 and 21, few for 2 and 22, many for 5, 11 and 25', () => {
    expect(COUNTS.map((n) => plural('ru', PLURALS.targets, n))).toEqual([
      '1 цель',
      '2 цели',
      '5 целей',
      '11 целей',
      '21 цель',
      '22 цели',
      '25 целей',
    ]);
  });

  it('agrees the Russian verb with the count', () => {
    expect(COUNTS.map((n) => plural('ru', PLURALS.targetsCreated, n))).toEqual([
      'Создана 1 цель',
      'Созданы 2 цели',
      'Создано 5 целей',
      'Создано 11 целей',
      'Создана 21 цель',
      'Созданы 22 цели',
      'Создано 25 целей',
    ]);
    expect(COUNTS.map((n) => plural('ru', PLURALS.daysLeft, n))).toEqual([
      'остался 1 день',
      'осталось 2 дня',
      'осталось 5 дней',
      'осталось 11 дней',
      'остался 21 день',
      'осталось 22 дня',
      'осталось 25 дней',
    ]);
    expect(COUNTS.map((n) => plural('en', PLURALS.daysLeft, n))).toEqual([
      '1 day left',
      '2 days left',
      '5 days left',
      '11 days left',
      '21 days left',
      '22 days left',
      '25 days left',
    ]);
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
});
