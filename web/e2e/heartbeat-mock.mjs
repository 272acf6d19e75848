// The heartbeat pages in Chromium against e2e/mock-api.mjs (no backend needed): add a heartbeat
// (no interval, thresholds or "Test now"; a cron schedule in a time zone; the client's errors
// and the API's 422 beside their fields), then its page: ping and slug URLs, the copy-ready
// commands on its cron schedule, the last pings with a body shown as text, a new ping URL behind
// a confirmation; the overview shows its schedule. Screenshots go to test-artifacts/.
//
//   npx vite build && node e2e/heartbeat-mock.mjs

import { createMockApi } from './mock-api.mjs';
import { launch, shotPath } from './lib.mjs';

const server = createMockApi();
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await launch();
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'Europe/Moscow' });
const page = await ctx.newPage();
const errors = [];
let ok = false;
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
const dialogs = [];
page.on('dialog', (d) => {
  dialogs.push(d.message());
  void d.accept();
});
const expect = (cond, what) => {
  if (!cond) throw new Error(`expected: ${what}`);
};

try {
  await page.goto(`${base}/register`);
  await page.fill('input[type=email]', 'hb@e2e.test');
  await page.fill('input[type=password]', 'password123');
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);

  await page.goto(`${base}/targets/new`);
  await page.selectOption('select[name=kind]', 'heartbeat');
  await page.waitForSelector('[data-testid=heartbeat-fields]');
  expect((await page.$('input[name=interval_seconds]')) === null, 'no interval for a heartbeat');
  expect((await page.$('input[name=failure_threshold]')) === null, 'no thresholds for a heartbeat');
  expect((await page.$('[data-testid=test-now]')) === null, 'no Test now for a heartbeat');
  await page.fill('input[name=name]', 'nightly backup');
  await page.check('input[name=heartbeat-mode][value=cron]');
  const zone = await page.inputValue('input[name="spec.timezone"]');
  expect(zone === 'Europe/Moscow', `the browser's time zone by default, got ${zone}`);
  await page.fill('input[name="spec.cron"]', '0 25 * * *');
  await page.fill('input[name="spec.slug"]', 'Nightly');
  await page.click('[data-testid=save-target]');
  await page.waitForSelector('[data-field="spec.cron"] .error-text');
  await page.waitForSelector('[data-field="spec.slug"] .error-text');
  await page.fill('input[name="spec.cron"]', '30 2 * * *');
  await page.fill('input[name="spec.slug"]', 'taken');
  await page.click('[data-testid=save-target]');
  // The API's 422 names spec.slug: shown beside that input.
  await page.waitForSelector('[data-field="spec.slug"] .error-text:has-text("another heartbeat")');
  await page.screenshot({ path: shotPath('heartbeat-form-422'), fullPage: true });
  await page.fill('input[name="spec.slug"]', 'nightly');
  await page.click('[data-testid=save-target]');

  await page.waitForSelector('[data-testid=heartbeat-state]');
  expect((await page.$('[data-testid=target-test-now]')) === null, 'no Test now on a heartbeat page');
  const pingUrl = (await page.textContent('[data-testid=ping-url]')).trim();
  expect(/^http:\/\/127\.0\.0\.1:\d+\/ping\/[0-9a-f-]{36}$/.test(pingUrl), `a ping URL, got ${pingUrl}`);
  expect((await page.textContent('[data-testid=slug-url]')).trim().endsWith('/ping/mockpingkey/nightly'), 'the slug URL');
  const crontab = (await page.textContent('[data-example=crontab] pre')).trim();
  expect(crontab === `30 2 * * * /path/to/job.sh; curl -fsS -m 10 --retry 5 -o /dev/null ${pingUrl}/$?`, `the crontab line, got ${crontab}`);
  expect((await page.getAttribute('[data-testid=next-ping]', 'data-next')) === 'expected', 'the next ping expected');
  await page.waitForSelector('[data-testid=pings-table] tr[data-event=start]');
  await page.click('[data-testid=ping-body-toggle] >> nth=0');
  const body = await page.textContent('[data-testid=ping-body]');
  expect(body.includes('<b>not bold</b>'), 'the body as text');
  expect((await page.$('[data-testid=ping-body] b')) === null, 'no markup from a ping body');
  await page.screenshot({ path: shotPath('heartbeat-page'), fullPage: true });

  await page.click('[data-testid=rotate-ping-url]');
  await page.waitForFunction((old) => document.querySelector('[data-testid=ping-url]')?.textContent?.trim() !== old, pingUrl);
  expect(dialogs.length === 1 && /stops working/.test(dialogs[0]), `a confirmation first, got ${dialogs}`);
  await page.click('[data-testid=lang-toggle]');
  await page.screenshot({ path: shotPath('heartbeat-page-ru'), fullPage: true });
  await page.click('[data-testid=lang-toggle]');

  await page.goto(`${base}/`);
  await page.waitForSelector('[data-testid=target-list] .vrow .addr');
  const addr = (await page.textContent('[data-testid=target-list] .vrow .addr')).trim();
  expect(addr === 'nightly · 30 2 * * * (Europe/Moscow)', `the schedule in the list, got ${addr}`);
  await page.screenshot({ path: shotPath('heartbeat-overview'), fullPage: true });
  console.log('OK');
  ok = true;
} catch (e) {
  console.log('FAIL', e.message);
  await page.screenshot({ path: shotPath('heartbeat-fail'), fullPage: true });
} finally {
  console.log('page errors:', errors);
  await browser.close();
  server.close();
}
// The 401 before registering and the 422 of the taken slug are expected.
const unexpected = errors.filter((e) => !/status of (401|422)/.test(e));
process.exit(ok && unexpected.length === 0 ? 0 : 1);
