// The dashboard runs under `script-src 'self'; style-src 'self'` (no 'unsafe-inline', no
// 'unsafe-eval'): index.html may load scripts and styles only from files, and the sources may
// not build markup or code from strings.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const WEB = join(__dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|tsx)$/.test(name) && !name.endsWith('.test.ts') ? [p] : [];
  });
}

describe('strict CSP', () => {
  const html = readFileSync(join(WEB, 'index.html'), 'utf8');

  it('index.html has no inline script, handler, style or data: URL', () => {
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs, 'every script is a file').toMatch(/\bsrc="\/[^"]+"/);
      expect(body!.trim(), 'no inline code').toBe('');
    }
    expect(html).not.toMatch(/<style\b/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/["']data:/i);
  });

  it('the sources neither evaluate strings nor inject HTML', () => {
    const files = sources(join(WEB, 'src'));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(/\beval\(|new Function\(|dangerouslySetInnerHTML|\.innerHTML\s*=|insertAdjacentHTML|document\.write/);
      expect(text, f).not.toMatch(/setTimeout\(\s*['"`]/);
    }
  });
});
