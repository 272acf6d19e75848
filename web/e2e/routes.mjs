// The routes the typed client calls, read from src/api/client.ts, and the routes a contract
// names (docs/API.md or the backend's /api/openapi.json), so that the two can be compared.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const METHODS = 'GET|POST|PUT|PATCH|DELETE';

/** `/api/targets/{id}/overview` → `/api/targets/{}/overview`. */
export function normalize(path) {
  return path.replace(/\{[^}]*\}/g, '{}').replace(/\/+$/, '');
}

export function clientRoutes(source) {
  const out = new Set();
  const re = /this\.request(?:<[^(]*?>)?\(\s*'(\w+)',\s*(?:`([^`]+)`|'([^']+)')/g;
  for (const m of source.matchAll(re)) {
    const path = (m[2] ?? m[3]).replace(/\$\{queryString\(.*?\)\}/g, '').replace(/\$\{[^}]*\}/g, '{}');
    out.add(`${m[1]} ${normalize(path)}`);
  }
  return out;
}

export function markdownRoutes(md) {
  const out = new Set();
  const re = new RegExp('`((?:' + METHODS + ')(?:\\|(?:' + METHODS + '))*)\\s+(/[^\\s`?]+)', 'g');
  for (const m of md.matchAll(re)) {
    for (const method of m[1].split('|')) out.add(`${method} ${normalize(m[2])}`);
  }
  return out;
}

export function openapiRoutes(doc) {
  const out = new Set();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of Object.keys(item)) {
      if (METHODS.toLowerCase().split('|').includes(method)) out.add(`${method.toUpperCase()} ${normalize(path)}`);
    }
  }
  return out;
}

export function readClient(webDir) {
  return readFileSync(join(webDir, 'src', 'api', 'client.ts'), 'utf8');
}
