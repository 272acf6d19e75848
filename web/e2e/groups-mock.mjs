// Grouped outages and tag dependencies in Chromium against e2e/mock-api.mjs (no backend needed):
// three failing targets made one group incident show as one row of "Grouped outages" (the cause
// in words, its members linking to their incidents, the group's page with every member); the tag
// dependencies page saves a tag's dependency and shows the API's 422 cycle beside the tag.
// Screenshots go to test-artifacts/.
//
//   npx vite build && node e2e/groups-mock.mjs

import { createMockApi } from './mock-api.mjs';
import { launch, shotPath } from './lib.mjs';

const server = createMockApi();
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await launch();
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await ctx.newPage();
const errors = [];
let ok = false;
page.on('pageerror', (e) => errors.push(String(e)));
// The imitation has no organisation switcher route: those 404s are its gap, any other one is a failure.
page.on('response', (r) => r.status() === 404 && !r.url().endsWith('/api/organisations') && errors.push(`404 ${r.url()}`));
page.on('console', (m) => m.type() === 'error' && !/status of (401|404|422)/.test(m.text()) && errors.push(m.text()));
const expect = (cond, what) => {
  if (!cond) throw new Error(`expected: ${what}`);
};
const api = async (method, path, data) => {
  const r = await page.request.fetch(`${base}${path}`, { method, data, headers: { 'content-type': 'application/json' } });
  expect(r.ok(), `${method} ${path} → ${r.status()}`);
  return r.json();
};

try {
  await page.goto(`${base}/register`);
  await page.fill('input[type=email]', 'groups@e2e.test');
  await page.fill('input[type=password]', 'password123');
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);

  const ids = {};
  for (const [name, tags] of [
    ['shop', ['web']],
    ['blog', ['web']],
    ['api', ['web']],
    ['db', []],
  ]) {
    const t = await api('POST', '/api/targets', { name, spec: { kind: 'http', url: `https://${name}.example.com/` }, interval_seconds: 60, tags });
    ids[name] = t.id;
  }
  for (const name of ['shop', 'blog', 'api']) await api('POST', `/api/mock/fail?id=${ids[name]}`);
  await api('POST', '/api/mock/group?cause=ip:203.0.113.7:connect_refused');

  // Grouped outages: one row, the cause in words, three members linking to their incidents.
  await page.goto(`${base}/incidents`);
  await page.click('[role=tab]:has-text("Grouped outages")');
  await page.waitForSelector('[data-testid=group-row]');
  expect((await page.locator('[data-testid=group-row]').count()) === 1, 'one group');
  const cause = await page.textContent('[data-testid=group-cause]');
  expect(cause === 'All resolve to 203.0.113.7: Connection refused', `the cause in words, got ${cause}`);
  const members = await page.locator('[data-testid=group-member]').allTextContents();
  expect(members.join(',') === 'shop,blog,api', `the members, got ${members}`);
  expect(new URL(page.url()).searchParams.get('view') === 'groups', 'the tab is in the URL');
  await page.click('[role=tab]:has-text("Resolved")');
  await page.waitForSelector('[data-testid=groups-empty]');
  await page.click('[role=tab]:has-text("Open")');
  await page.waitForSelector('[data-testid=group-row]');
  await page.screenshot({ path: shotPath('groups-list'), fullPage: true });
  await page.click('[data-testid=group-member]:has-text("blog")');
  await page.waitForSelector('[data-testid=incident-page]');
  await page.waitForSelector('[data-testid=incident-group-link]');
  await page.click('[data-testid=incident-group-link]');
  await page.waitForSelector('[data-testid=group-page]');
  expect((await page.locator('[data-testid=group-members] [data-testid=incident-row]').count()) === 3, 'the group page lists every member');
  await page.screenshot({ path: shotPath('groups-page'), fullPage: true });

  // Russian: the same cause in Russian words.
  await page.goto(`${base}/incidents?view=groups&status=`);
  await page.waitForSelector('[data-testid=group-cause]');
  await page.click('[data-testid=lang-toggle]');
  await page.waitForSelector('[data-testid=group-cause]:has-text("Все указывают на адрес 203.0.113.7")');
  await page.screenshot({ path: shotPath('groups-list-ru'), fullPage: true });
  await page.click('[data-testid=lang-toggle]');
  await page.waitForSelector('[data-testid=group-cause]:has-text("All resolve to")');

  // Tag dependencies: "web" depends on db; then on shop, which carries "web": a cycle, named.
  await page.goto(`${base}/`);
  await page.click('[data-testid=tag-deps-link]');
  const row = '[data-testid=tag-dep-row][data-tag="web"]';
  await page.waitForSelector(row);
  expect((await page.textContent(`${row} td:nth-child(2)`)) === '3', 'three targets carry web');
  await page.click(`${row} [data-testid=tag-dep-edit]`);
  await page.fill(`${row} input[name=target-search]`, 'db');
  await page.click(`${row} [data-testid=tag-dep-target-candidate]:has-text("db")`);
  await page.click(`${row} [data-testid=tag-dep-save]`);
  await page.waitForSelector(`${row} [data-testid=tag-dep-chip]:has-text("db")`);
  const stored = await api('GET', '/api/tag-dependencies');
  expect(stored.items.length === 1 && stored.items[0].depends_on[0] === ids.db, 'web depends on db');
  await page.click(`${row} [data-testid=tag-dep-edit]`);
  await page.fill(`${row} input[name=target-search]`, 'shop');
  await page.click(`${row} [data-testid=tag-dep-target-candidate]:has-text("shop")`);
  await page.click(`${row} [data-testid=tag-dep-save]`);
  const error = await (await page.waitForSelector(`${row} [data-testid=tag-dep-error]`)).textContent();
  expect(error === 'This would close a dependency cycle: shop → shop (through the tag “web”)', `the cycle, got ${error}`);
  await page.screenshot({ path: shotPath('tag-dependencies-cycle'), fullPage: true });
  // A new tag, typed.
  await page.click(`${row} button:has-text("Cancel")`);
  await page.fill('input[name=new-tag]', '  batch ');
  await page.click('[data-testid=tag-dep-add]');
  await page.waitForSelector('[data-testid=tag-dep-row][data-tag="batch"] [data-testid=tag-dep-save]');
  expect(errors.length === 0, `no page errors: ${errors.join('; ')}`);
  ok = true;
  console.log('PASS  grouped outages and tag dependencies (mock API)');
} catch (e) {
  console.log(`FAIL  grouped outages and tag dependencies (mock API): ${e.message}`);
  await page.screenshot({ path: shotPath('FAILED-groups-mock'), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
  server.close();
}
process.exit(ok ? 0 : 1);
