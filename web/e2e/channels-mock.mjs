// The channels pages in Chromium against e2e/mock-api.mjs (no backend needed): add a Pushover
// channel through the form (errors named, then fixed), test it (failure, then the 429 wait),
// see it disabled, enable it, replace one secret (the PATCH carries only that one), add a
// webhook with a secret header. Screenshots go to test-artifacts/.
//
//   npx vite build && node e2e/channels-mock.mjs

import { createMockApi } from './mock-api.mjs';
import { launch, shotPath } from './lib.mjs';
const server = createMockApi();
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const errors = [];
let ok = false;
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
const api = async (method, path, body) => page.evaluate(async ([method, path, body]) => { const r = await fetch(path, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined }); return [r.status, await r.text()]; }, [method, path, body]);
try {
  await page.goto(`${base}/register`);
  await page.fill('input[type=email]', 'a@e2e.test');
  await page.fill('input[type=password]', 'password123');
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
  await page.click('[data-nav="/channels"]');
  await page.waitForSelector('[data-testid=add-channel]');
  await page.click('[data-testid=add-channel]');
  await page.waitForSelector('[data-testid=kind-chooser] [data-testid=kind-pushover]');
  await page.screenshot({ path: shotPath('channels-chooser') });
  await page.click('[data-testid=kind-pushover]');
  await page.waitForSelector('[data-testid=channel-form]');
  // empty submit: errors named
  await page.click('[data-testid=save-channel]');
  await page.waitForSelector('[data-field="secrets.token"] .error-text');
  await page.fill('input[name=label]', 'phone broken');
  await page.fill('input[name="settings.priority"]', '1');
  await page.fill('input[name="secrets.token"]', 'tok');
  await page.fill('input[name="secrets.user_key"]', 'usr');
  await page.waitForSelector('[data-testid=channel-form-error]', { state: 'detached' });
  await page.check('input[name=quiet]');
  await page.fill('input[name=tags_include]', 'prod, db');
  await page.uncheck('input[name=event-report]');
  await page.screenshot({ path: shotPath('channels-form'), fullPage: true });
  await page.click('[data-testid=save-channel]');
  await page.waitForURL(`${base}/channels`);
  await page.waitForSelector('[data-testid=all-channels] tr[data-kind=pushover]');
  await page.click('[data-testid=channel-test]');
  await page.waitForSelector('[data-testid=channel-test-result][data-tone=error]');
  await page.click('[data-testid=channel-test]');
  await page.waitForSelector('[data-testid=channel-test-result][data-tone=warn]');
  console.log('429 says:', await page.textContent('[data-testid=channel-test-result]'));
  const [, list] = await api('GET', '/api/channels');
  const ch = JSON.parse(list).items[0];
  console.log('stored:', JSON.stringify({ settings: ch.settings, secrets: ch.secrets, routing: ch.routing }));
  await api('POST', `/api/mock/disable-channel?id=${ch.id}`);
  await page.reload();
  await page.waitForSelector('[data-testid=channel-disabled]');
  await page.screenshot({ path: shotPath('channels-list-disabled'), fullPage: true });
  await page.click('[data-testid=channel-enable]');
  await page.waitForSelector('[data-testid=channel-disabled]', { state: 'detached' });
  await page.click('[data-testid=channel-edit]');
  await page.waitForSelector('[data-secret="secrets.token"][data-secret-state=set]');
  await page.click('[data-secret="secrets.user_key"] [data-testid=secret-replace]');
  await page.fill('input[name="secrets.user_key"]', 'usr2');
  let patchBody = null;
  page.on('request', (r) => r.method() === 'PATCH' && (patchBody = r.postData()));
  await page.click('[data-testid=save-channel]');
  await page.waitForSelector('[data-secret="secrets.user_key"][data-secret-state=set]');
  console.log('patch body:', patchBody);
  await page.click('[data-testid=lang-toggle]');
  await page.screenshot({ path: shotPath('channels-edit-ru'), fullPage: true });
  await page.goto(`${base}/channels/new?kind=webhook`);
  await page.waitForSelector('[data-testid=channel-form][data-kind=webhook]');
  await page.fill('input[name="settings.url"]', 'https://h.example/in');
  await page.click('[data-testid=add-channel-header]');
  await page.fill('[data-testid=channel-header-row] input[aria-label]', 'X-Api-Key');
  await page.fill('[data-testid=channel-header-row] input[type=password]', 'k');
  await page.click('[data-testid=save-channel]');
  await page.waitForURL(`${base}/channels`);
  await page.waitForSelector('[data-testid=all-channels] tr[data-kind=webhook]');
  await page.goto(`${base}/notifications`);
  await page.waitForSelector('[data-testid=manage-channels]');
  await page.screenshot({ path: shotPath('channels-notifications'), fullPage: true });
  console.log('OK');
  ok = true;
} catch (e) {
  console.log('FAIL', e.message);
  await page.screenshot({ path: shotPath('channels-fail'), fullPage: true });
} finally {
  console.log('page errors:', errors);
  await browser.close();
  server.close();
}
// The 401 before registering and the 429 of the second test are expected.
const unexpected = errors.filter((e) => !/status of (401|429)/.test(e));
process.exit(ok && unexpected.length === 0 ? 0 : 1);
