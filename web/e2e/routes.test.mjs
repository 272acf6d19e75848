import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WEB_DIR } from './lib.mjs';
import { clientRoutes, markdownRoutes, readClient } from './routes.mjs';

describe('the API client against docs/API.md', () => {
  it('calls only routes the contract names', () => {
    const client = clientRoutes(readClient(WEB_DIR));
    const contract = markdownRoutes(readFileSync(join(WEB_DIR, '..', 'docs', 'API.md'), 'utf8'));
    expect(client.size).toBeGreaterThan(40);
    const missing = [...client].filter((r) => !contract.has(r));
    expect(missing).toEqual([]);
  });
});
