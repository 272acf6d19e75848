// The escalation and acknowledgement pages in Chromium against e2e/mock-api.mjs (no backend
// needed): add a policy of three steps (errors named, the minutes' order checked), see its
// one-line summary, edit it while one of its channels is deleted (the API's 422 shows next to
// that step), delete it; then open an alert's acknowledgement link signed out — opening it
// acknowledges nothing, the button does — and the invalid, expired and rate-limited links.
// Screenshots go to test-artifacts/.
//
//   npx vite build && node e2e/escalation-mock.mjs

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
page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
page.on('dialog', (d) => void d.accept());
const api = async (method, path, body) =>
  page.evaluate(
    async ([method, path, body]) => {
      const r = await fetch(path, { method, headers: { 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
      const text = await r.text();
      return [r.status, text ? JSON.parse(text) : null];
    },
    [method, path, body],
  );
const expect = (cond, what) => {
  if (!cond) throw new Error(`expected: ${what}`);
};

try {
  await page.goto(`${base}/register`);
  await page.fill('input[type=email]', 'esc@e2e.test');
  await page.fill('input[type=password]', 'password123');
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
  const [, tg] = await api('POST', '/api/channels', { kind: 'slack', label: 'Team Slack', secrets: { url: 'https://hooks.slack.example/T/B/x' } });
  const [, pd] = await api('POST', '/api/channels', { kind: 'pagerduty', secrets: { routing_key: 'k' } });
  const [, mail] = await api('POST', '/api/channels/email', { address: 'oncall@example.com' });
  const target = { name: 'shop-api', kind: 'http', spec: { kind: 'http', url: 'https://shop.example/health' }, interval_seconds: 60, regions: ['default'], tags: ['prod'] };
  const [, shop] = await api('POST', '/api/targets', target);

  await page.click('[data-nav="/escalation"]');
  await page.waitForURL(`${base}/escalation`);
  await page.click('[data-testid=add-policy]');
  await page.waitForSelector('[data-testid=policy-form]');
  // Empty submit: the name and the first step's channels are named.
  await page.click('[data-testid=save-policy]');
  await page.waitForSelector('[data-field=name] .error-text');
  await page.waitForSelector('[data-field="steps[0].channel_ids"] .error-text');
  await page.fill('input[name=name]', 'On-call');
  await page.check(`[data-step="0"] [data-channel="${mail.id}"] input`);
  await page.click('[data-testid=add-step]');
  await page.fill('input[name="steps[1].after_minutes"]', '0');
  await page.check(`[data-step="1"] [data-channel="${pd.id}"] input`);
  // Minutes must increase: the client says so next to the field.
  await page.waitForSelector('[data-field="steps[1].after_minutes"] .error-text');
  const order = await page.textContent('[data-field="steps[1].after_minutes"] .error-text');
  expect(/later/.test(order), `an order error, got ${order}`);
  await page.fill('input[name="steps[1].after_minutes"]', '10');
  await page.click('[data-testid=add-step]');
  await page.fill('input[name="steps[2].after_minutes"]', '30');
  await page.check(`[data-step="2"] [data-channel="${tg.id}"] input`);
  await page.check('input[name=reminders]');
  await page.fill('input[name=reminder_minutes]', '15');
  await page.fill('input[name=target-search]', 'shop');
  await page.click('[data-testid=policy-target-candidate]');
  await page.waitForSelector(`[data-testid=policy-target][data-target="${shop.id}"]`);
  await page.fill('input[name=tags]', 'prod, db');
  await page.waitForSelector('[data-testid=policy-form-error]', { state: 'detached' });
  await page.screenshot({ path: shotPath('escalation-form'), fullPage: true });
  await page.click('[data-testid=save-policy]');
  await page.waitForURL(`${base}/escalation`);
  await page.waitForSelector('[data-testid=policies] [data-testid=policy-steps]');
  const summary = (await page.textContent('[data-testid=policy-steps]')).trim();
  console.log('summary:', summary);
  expect(summary === 'Email now → PagerDuty after 10 min → Team Slack after 30 min', 'the one-line summary');
  expect((await page.textContent('[data-testid=policy-reminders]')).trim() === 'every 15 min', 'the reminders');
  const applies = await page.textContent('[data-testid=policy-applies]');
  expect(applies.includes('1 target') && applies.includes('#prod') && applies.includes('#db'), `targets and tags, got ${applies}`);
  const [, { items: stored }] = await api('GET', '/api/escalation-policies');
  console.log('stored:', JSON.stringify(stored[0]));
  expect(stored[0].reminder_minutes === 15 && stored[0].steps.length === 3 && stored[0].target_ids[0] === shop.id, 'the stored body');
  await page.screenshot({ path: shotPath('escalation-list'), fullPage: true });

  // Edit while the first step's channel is deleted elsewhere: the API's 422 names
  // steps[0].channel_ids[0], shown next to that step's channels.
  await page.click('[data-testid=policy-edit]');
  await page.waitForSelector(`[data-testid=policy-target][data-target="${shop.id}"]:has-text("shop-api")`);
  await api('DELETE', `/api/channels/${mail.id}`);
  await page.fill('input[name=name]', 'On-call (edited)');
  await page.click('[data-testid=save-policy]');
  await page.waitForSelector('[data-field="steps[0].channel_ids"] .error-text');
  const apiErr = await page.textContent('[data-field="steps[0].channel_ids"] .error-text');
  console.log('422 shown as:', apiErr);
  expect(/no such channel/.test(apiErr), 'the API message next to the step');
  await page.click('[data-testid=lang-toggle]');
  await page.screenshot({ path: shotPath('escalation-edit-422-ru'), fullPage: true });
  await page.click('[data-testid=lang-toggle]');
  await page.click('[data-testid=policy-delete]');
  await page.waitForURL(`${base}/escalation`);
  await page.waitForSelector('text=No escalation policies yet.');

  // The acknowledgement link, signed out.
  const [, fail] = await api('POST', `/api/mock/fail?id=${shop.id}`);
  await ctx.clearCookies();
  await page.goto(`${base}/ack/${fail.incident_id}`);
  await page.waitForSelector('[data-testid=ack-info]');
  expect(page.url() === `${base}/ack/${fail.incident_id}`, 'no redirect to the login page');
  await page.waitForSelector('[data-testid=ack-button]');
  const [, before] = await api('GET', `/api/ack/${fail.incident_id}`);
  expect(before.acknowledged_at === null, 'opening the page acknowledges nothing');
  await page.screenshot({ path: shotPath('ack-open'), fullPage: true });
  await page.click('[data-testid=ack-button]');
  await page.waitForSelector('[data-testid=ack-done]');
  console.log('after the button:', (await page.textContent('[data-testid=ack-done]')).trim());
  const [, after] = await api('GET', `/api/ack/${fail.incident_id}`);
  expect(after.acknowledged_at !== null, 'the button acknowledged');
  await page.screenshot({ path: shotPath('ack-done'), fullPage: true });
  for (const [token, kind] of [
    ['bogus', 'invalid'],
    ['expired', 'expired'],
    ['limited', 'rate_limited'],
  ]) {
    await page.goto(`${base}/ack/${token}`);
    await page.waitForSelector(`[data-testid=ack-failure][data-kind=${kind}]`);
    console.log(`${token}:`, (await page.textContent('[data-testid=ack-failure]')).trim());
  }
  await page.screenshot({ path: shotPath('ack-rate-limited'), fullPage: true });
  console.log('OK');
  ok = true;
} catch (e) {
  console.log('FAIL', e.message);
  await page.screenshot({ path: shotPath('escalation-fail'), fullPage: true });
} finally {
  console.log('page errors:', errors);
  await browser.close();
  server.close();
}
// The 401 before registering and when signed out, the 422 of the edit and the 404/410/429 of the
// failing links are expected.
const unexpected = errors.filter((e) => !/status of (401|404|410|422|429)/.test(e));
process.exit(ok && unexpected.length === 0 ? 0 : 1);
