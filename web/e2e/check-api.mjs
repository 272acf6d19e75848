// Checks the typed client against a running backend's machine-readable contract:
//   PINGTOWER_E2E_URL=http://127.0.0.1:8080 npm run check:api
import { WEB_DIR } from './lib.mjs';
import { clientRoutes, openapiRoutes, readClient } from './routes.mjs';

const base = (process.env.PINGTOWER_E2E_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
const res = await fetch(`${base}/api/openapi.json`);
if (!res.ok) {
  console.error(`GET ${base}/api/openapi.json → ${res.status}`);
  process.exit(2);
}
const served = openapiRoutes(await res.json());
const client = clientRoutes(readClient(WEB_DIR));
const missing = [...client].filter((r) => !served.has(r)).sort();
console.log(`${client.size} client routes, ${served.size} in openapi.json`);
for (const r of missing) console.log(`  not in openapi.json: ${r}`);
process.exit(missing.length ? 1 : 0);
