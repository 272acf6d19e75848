import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WEB_DIR } from './lib.mjs';
import { clientRoutes, markdownRoutes, openapiRoutes, readClient } from './routes.mjs';

describe('the API client against docs/API.md', () => {
  it('calls only routes the contract names', () => {
    const client = clientRoutes(readClient(WEB_DIR));
    const contract = markdownRoutes(readFileSync(join(WEB_DIR, '..', 'docs', 'API.md'), 'utf8'));
    expect(client.size).toBeGreaterThan(40);
    const missing = [...client].filter((r) => !contract.has(r));
    expect(missing).toEqual([]);
  });
});

describe('the API client against the committed OpenAPI document', () => {
  it('calls only routes src/api/openapi.json names', () => {
    const client = clientRoutes(readClient(WEB_DIR));
    const doc = JSON.parse(readFileSync(join(WEB_DIR, 'src', 'api', 'openapi.json'), 'utf8'));
    const served = openapiRoutes(doc);
    expect(served.size).toBeGreaterThan(40);
    const missing = [...client].filter((r) => !served.has(r));
    expect(missing).toEqual([]);
  });
});
