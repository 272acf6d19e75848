import { describe, expect, it } from 'vitest';
import { matchPath } from './router';

describe('matchPath', () => {
  it('extracts params', () => {
    expect(matchPath('/targets/:id/edit', '/targets/abc/edit')).toEqual({ id: 'abc' });
    expect(matchPath('/s/:slug', '/s/my%20page')).toEqual({ slug: 'my page' });
  });
  it('rejects other paths', () => {
    expect(matchPath('/targets/:id', '/targets/abc/edit')).toBeNull();
    expect(matchPath('/incidents', '/tokens')).toBeNull();
    expect(matchPath('/', '/')).toEqual({});
  });
});
