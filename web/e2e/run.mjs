// Browser tests against the real suite (scripts/test-web.sh starts it and sets PINGTOWER_E2E_URL):
// register → add a target on a loopback server (Test now first) → it shows up → the server fails
// → the incident appears with its report → acknowledge → the public status page shows it; the
// Telegram link flow shows a token link; a second user never sees the first user's targets; a
// user enables two-factor sign-in (codes by Debian's oathtool) and signs in again with a code;
// the grouped outages list matches the API; the tag dependencies editor shows a refused cycle.
// Screenshots of every page go to web/test-artifacts/. Each step prints PASS / FAIL / SKIP.

import { execFileSync } from 'node:child_process';
import { Api, dashboardBase, flakyServer, launch, shotPath, uniqueEmail, waitFor } from './lib.mjs';

const API_BASE = process.env.PINGTOWER_E2E_URL?.replace(/\/$/, '');
if (!API_BASE) {
  console.error('PINGTOWER_E2E_URL is not set (scripts/test-web.sh sets it after starting the suite)');
  process.exit(2);
}
const INCIDENT_TIMEOUT_MS = Number(process.env.PINGTOWER_E2E_INCIDENT_TIMEOUT_MS ?? 180_000);

const results = [];
const ctx = {};

async function step(name, needs, fn) {
  const missing = needs.filter((k) => ctx[k] === undefined);
  if (missing.length) {
    results.push({ name, status: 'SKIP', detail: `needs ${missing.join(', ')} from an earlier step` });
    console.log(`SKIP  ${name} (needs ${missing.join(', ')})`);
    return;
  }
  const t0 = Date.now();
  try {
    const detail = (await fn()) ?? '';
    results.push({ name, status: 'PASS', detail });
    console.log(`PASS  ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s) ${detail}`);
  } catch (e) {
    const detail = String(e?.message ?? e).split('\n')[0];
    results.push({ name, status: 'FAIL', detail });
    console.log(`FAIL  ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${detail}`);
    try {
      if (ctx.page) await ctx.page.screenshot({ path: shotPath(`FAILED-${name.replace(/\W+/g, '-')}`), fullPage: true });
    } catch {
      /* the page may be gone */
    }
  }
}

async function shot(page, name) {
  await page.waitForTimeout(250);
  await page.screenshot({ path: shotPath(name), fullPage: true });
}

let BASE = API_BASE;

async function main() {
  const dash = await dashboardBase(API_BASE);
  BASE = dash.base;
  const server = await flakyServer();
  const browser = await launch();
  const pageErrors = [];
  const newPage = async (context) => {
    const p = await context.newPage();
    p.on('pageerror', (e) => pageErrors.push(`${p.url()}: ${e.message}`));
    p.setDefaultTimeout(15_000);
    return p;
  };
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await newPage(context);
  ctx.page = page;
  const emailA = uniqueEmail('alice');
  const password = 'correct-horse-battery';
  const apiA = new Api(BASE);

  await step('the backend serves the dashboard at / and /s/{slug} (SPA fallback)', [], async () => {
    if (dash.proxied) throw new Error(`${API_BASE}/ does not serve web/dist; the other steps use a pass-through server`);
  });

  await step('the API answers /api/config', [], async () => {
    ctx.config = await apiA.ok('GET', '/api/config');
    return `min interval ${ctx.config.min_interval_seconds} s, telegram bot ${ctx.config.telegram_bot_username ?? 'none'}`;
  });

  await step('register (first user) through the sign-up page', [], async () => {
    await page.goto(`${BASE}/register`);
    await page.fill('input[name=email]', emailA);
    await page.fill('input[name=password]', password);
    await shot(page, '01-register');
    await page.click('[data-testid=register-form] button[type=submit]');
    await page.waitForSelector('[data-testid=target-list]');
    await page.waitForSelector('[data-testid=target-count]:has-text("0")');
    await page.waitForSelector('[data-testid=target-list][data-ready="1"] .empty');
    // An empty list is its message alone, not the message over loading skeletons.
    const skeletons = await page.$$eval('[data-testid=target-list] .vrow', (r) => r.length);
    if (skeletons) throw new Error(`the empty overview draws ${skeletons} rows`);
    await shot(page, '02-overview-empty');
    const cookies = await context.cookies();
    const c = cookies.find((x) => x.name === 'pt_session');
    if (!c) throw new Error('no pt_session cookie after sign-up');
    if (!c.httpOnly) throw new Error('pt_session is not HttpOnly');
    apiA.cookie = `pt_session=${c.value}`;
    ctx.registered = true;
  });

  await step('log out and log in again', ['registered'], async () => {
    await page.click('[data-testid=logout]');
    await page.waitForSelector('[data-testid=login-form]');
    await shot(page, '03-login');
    await page.fill('input[name=email]', emailA);
    await page.fill('input[name=password]', password);
    await page.click('[data-testid=login-form] button[type=submit]');
    await page.waitForSelector('[data-testid=target-list]');
    const c = (await context.cookies()).find((x) => x.name === 'pt_session');
    apiA.cookie = `pt_session=${c.value}`;
  });

  await step('the top bar shows every item at 1280 px, in English and in Russian, and each is a link that opens its page', ['registered'], async () => {
    const clipped = async () =>
      page.$$eval('.topbar .nav a, .topbar .top-actions > *', (items) => {
        const vw = document.documentElement.clientWidth;
        const nav = document.querySelector('.topbar .nav');
        const out = [];
        if (nav && nav.scrollWidth > nav.clientWidth + 1) out.push(`the nav scrolls (${nav.scrollWidth} > ${nav.clientWidth})`);
        const box = nav?.getBoundingClientRect();
        for (const el of items) {
          // Hidden on purpose at this width (the e-mail address up to 1400 px): not laid out.
          if (el.getClientRects().length === 0) continue;
          const r = el.getBoundingClientRect();
          if (r.width === 0 || r.left < 0 || r.right > vw + 0.5) out.push(`${el.textContent?.trim()} at ${r.left}–${r.right} of ${vw}`);
          if (el.closest('.nav') && box && (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5))
            out.push(`${el.textContent?.trim()} outside the nav`);
        }
        return out;
      });
    const counted = await page.$$eval('.topbar .nav a', (a) => a.length);
    if (counted < 11) throw new Error(`only ${counted} items in the nav`);
    const en = await clipped();
    if (en.length) throw new Error(`cut off in English: ${en.join('; ')}`);
    await page.click('[data-testid=lang-toggle]');
    await page.waitForSelector('html[lang=ru]');
    const ru = await clipped();
    await shot(page, '02b-topbar-ru');
    await page.click('[data-testid=lang-toggle]');
    await page.waitForSelector('html[lang=en]');
    if (ru.length) throw new Error(`cut off in Russian: ${ru.join('; ')}`);
    // The last items, once behind the nav's scroll, open their pages by a click.
    await page.click('[data-nav="/account/security"]');
    await page.waitForSelector('[data-testid=tfa-status]');
    await page.click('[data-nav="/"]');
    await page.waitForSelector('[data-testid=target-list]');
    return `${counted} items, none cut off`;
  });

  await step('two-factor sign-in: enrol on the security page, 10 recovery codes, then sign in with a fresh code', [], async () => {
    // Its own user and browser context: enabling revokes the user's other sessions, and the steps around keep theirs.
    const tfaContext = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const p = await newPage(tfaContext);
    const email = uniqueEmail('carol');
    // Debian's oathtool (scripts/test.sh installs it) computes the codes, as an authenticator app would.
    const totp = (secret) => execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();
    const timeStep = () => Math.floor(Date.now() / 1000 / 30);
    try {
      await p.goto(`${BASE}/register`);
      await p.fill('input[name=email]', email);
      await p.fill('input[name=password]', password);
      await p.click('[data-testid=register-form] button[type=submit]');
      await p.waitForSelector('[data-testid=target-list]');
      // Through the top bar, whose last item this page's is.
      await p.click('[data-nav="/account/security"]');
      await p.waitForSelector('[data-testid=tfa-status][data-enabled=false]');
      await p.click('[data-testid=tfa-setup]');
      await p.waitForSelector('[data-testid=tfa-qr]');
      // The QR code is the server's SVG as an <img> (no markup injected): it must have loaded under the CSP.
      const qrWidth = await p.$eval('[data-testid=tfa-qr]', (img) => img.complete && img.naturalWidth);
      if (!qrWidth) throw new Error('the QR code image did not load');
      const secret = await p.getAttribute('[data-testid=tfa-secret]', 'data-secret');
      if (!/^[A-Z2-7]{16,}$/.test(secret ?? '')) throw new Error(`unexpected secret ${secret}`);
      await shot(p, '03b-security-enrol');
      const firstCode = totp(secret);
      // The step of that code is at most this one (read after oathtool ran).
      const enabledStep = timeStep();
      await p.fill('input[name=tfa-code]', firstCode);
      await p.click('[data-testid=tfa-enable]');
      await p.waitForSelector('[data-testid=recovery-codes]');
      const codes = await p.$$eval('[data-testid=recovery-code]', (els) => els.map((e) => e.textContent.trim()));
      if (codes.length !== 10 || new Set(codes).size !== 10) throw new Error(`expected 10 distinct recovery codes, got ${JSON.stringify(codes)}`);
      await p.waitForSelector('[data-testid=tfa-status][data-enabled=true]');
      await shot(p, '03c-recovery-codes');
      await p.click('[data-testid=codes-saved]');
      await p.waitForSelector('[data-testid=recovery-codes]', { state: 'detached' });

      await p.click('[data-testid=logout]');
      await p.waitForSelector('[data-testid=login-form]');
      await p.fill('input[name=email]', email);
      await p.fill('input[name=password]', password);
      await p.click('[data-testid=login-form] button[type=submit]');
      await p.waitForSelector('[data-testid=second-factor-form]');
      if ((await tfaContext.cookies()).some((c) => c.name === 'pt_session')) throw new Error('a session cookie before the second factor');
      const input = p.locator('input[name=code]');
      if ((await input.getAttribute('autocomplete')) !== 'one-time-code' || (await input.getAttribute('inputmode')) !== 'numeric')
        throw new Error('the code field lacks autocomplete=one-time-code or inputmode=numeric');
      // The recovery-code switch swaps the field, and back.
      await p.click('[data-testid=use-recovery]');
      await p.waitForSelector('input[name=recovery_code]');
      await p.click('[data-testid=use-recovery]');
      await p.waitForSelector('input[name=code]');
      // A wrong code is said plainly, beside the field.
      const wrong = totp(secret).replace(/\d/g, (d) => String((Number(d) + 5) % 10));
      await p.fill('input[name=code]', wrong);
      await p.click('[data-testid=second-factor-form] button[type=submit]');
      await p.waitForSelector('[data-testid=second-factor-form] [data-field=code] .error-text');
      await shot(p, '03d-second-factor-wrong-code');
      // Each time step is accepted once: wait for the step after the one that enabled it (the clock, polled).
      await waitFor('the next 30 s time step', async () => timeStep() > enabledStep, { timeoutMs: 35_000, intervalMs: 200 });
      await p.fill('input[name=code]', totp(secret));
      await p.click('[data-testid=second-factor-form] button[type=submit]');
      await p.waitForSelector('[data-testid=target-list]');
      if (!(await tfaContext.cookies()).some((c) => c.name === 'pt_session')) throw new Error('no pt_session cookie after the second factor');
      await p.goto(`${BASE}/account/security`);
      await p.waitForSelector('[data-testid=tfa-status][data-enabled=true]');
      const left = (await p.textContent('[data-testid=tfa-codes-left]'))?.trim();
      if (!/\b10\b/.test(left ?? '')) throw new Error(`recovery codes left: ${left}`);
      return `secret of ${secret.length} chars, ${codes.length} recovery codes; ${left}`;
    } finally {
      await tfaContext.close();
    }
  });

  await step('add a target on a loopback server: validation, Test now, save', ['registered'], async () => {
    await page.goto(`${BASE}/targets/new`);
    await page.click('[data-testid=save-target]');
    await page.waitForSelector('[data-field=name] .error-text');
    await page.fill('input[name=name]', 'e2e loopback');
    await page.fill('input[name="spec.url"]', server.url);
    const interval = Math.max(ctx.config?.min_interval_seconds ?? 10, 5);
    await page.fill('input[name=interval_seconds]', String(interval));
    await page.fill('input[name=failure_threshold]', '1');
    await page.fill('input[name="spec.timeout_ms"]', '5000');
    await page.fill('input[name=tags]', 'e2e, loopback');
    await page.click('[data-testid=test-now]');
    await page.waitForSelector('[data-testid=test-result] [data-testid=result-view]', { timeout: 30_000 });
    const outcome = await page.getAttribute('[data-testid=test-result] [data-testid=result-view]', 'data-outcome');
    if (outcome !== 'up') throw new Error(`Test now said ${outcome}`);
    const hops = await page.locator('[data-testid=test-result] [data-testid=hop]').count();
    if (hops < 1) throw new Error('Test now shows no hop with phases');
    await shot(page, '04-target-new-test-now');
    await page.click('[data-testid=save-target]');
    await page.waitForSelector('[data-testid=target-page]');
    ctx.targetId = await page.getAttribute('[data-testid=target-page]', 'data-target-id');
    return `target ${ctx.targetId}, interval ${interval} s, server ${server.url}`;
  });

  await step('the API reports a validation error inline', ['targetId'], async () => {
    await page.goto(`${BASE}/targets/${ctx.targetId}/edit`);
    await page.fill('input[name=interval_seconds]', '1');
    // Client-side rules let 1 through when the server's minimum is unknown; either way an inline error must show.
    await page.click('[data-testid=save-target]');
    await page.waitForSelector('.field.invalid .error-text, [role=alert]');
    await shot(page, '05-target-edit-validation');
  });

  await step('the target shows up on the overview and turns up', ['targetId'], async () => {
    await page.goto(`${BASE}/`);
    const row = `.vrow[data-target-id="${ctx.targetId}"]`;
    await page.waitForSelector(row);
    await waitFor(
      'state up',
      async () => {
        const s = await page.getAttribute(row, 'data-status');
        if (s === 'up') return true;
        await page.reload();
        await page.waitForSelector(row);
        return false;
      },
      { timeoutMs: 90_000, intervalMs: 3000 },
    );
    // The row's uptimes arrive after the list (one /api/overview/uptime call for the visible rows).
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.trim() !== '…', `${row} [data-testid=uptime24]`);
    const up24 = await page.textContent(`${row} [data-testid=uptime24]`);
    await page.waitForTimeout(300);
    await shot(page, '06-overview');
    return `24 h uptime shown: ${up24}`;
  });

  await step('the target page shows state, uptime, chart, daily bars and results', ['targetId'], async () => {
    await page.goto(`${BASE}/targets/${ctx.targetId}`);
    await page.waitForSelector('[data-testid=uptime-stats]');
    await page.waitForSelector('[data-testid=results-table] tr', { timeout: 30_000 });
    await page.click('[data-testid=results-table] tr.clickable');
    await page.waitForSelector('[data-testid=results-table] [data-testid=result-view]');
    await page.waitForSelector('[data-testid=latency-chart], .empty', { timeout: 20_000 });
    await shot(page, '07-target');
  });

  await step('the server fails → an incident opens with its report', ['targetId'], async () => {
    server.fail();
    // Only against e2e/mock-api.mjs (development): it runs no checks, so it is told.
    if (process.env.PINGTOWER_E2E_MOCK === '1') await apiA.ok('POST', `/api/mock/fail?id=${ctx.targetId}`);
    await page.goto(`${BASE}/incidents?status=open`);
    const id = await waitFor(
      'an open incident',
      async () => {
        const rows = page.locator(`[data-testid=incident-row]`);
        if ((await rows.count()) > 0) return rows.first().getAttribute('data-incident-id');
        await page.reload();
        return null;
      },
      { timeoutMs: INCIDENT_TIMEOUT_MS, intervalMs: 4000 },
    );
    ctx.incidentId = id;
    await shot(page, '08-incidents');
    await page.goto(`${BASE}/incidents/${id}`);
    await page.waitForSelector('[data-testid=incident-page]');
    await page.waitForSelector('[data-testid=incident-report] [data-testid=report-summary]', { timeout: 90_000 });
    const summary = await page.textContent('[data-testid=report-summary]');
    await shot(page, '09-incident');
    return `incident ${id}; report: ${summary?.slice(0, 80)}`;
  });

  await step('acknowledge the incident', ['incidentId'], async () => {
    await page.goto(`${BASE}/incidents/${ctx.incidentId}`);
    await page.click('[data-testid=ack]');
    await page.waitForSelector('[data-testid=acknowledged]');
    const inc = await apiA.ok('GET', `/api/incidents/${ctx.incidentId}`);
    if (!inc.acknowledged_at) throw new Error('the API does not show acknowledged_at');
    await shot(page, '10-incident-acknowledged');
  });

  await step('create a status page with the target', ['targetId'], async () => {
    await page.goto(`${BASE}/status-pages/new`);
    const title = `E2E Status ${Date.now()}`;
    await page.fill('input[name=title]', title);
    await page.fill('input[name=sp-search]', 'e2e loopback');
    await page.click('[data-testid=sp-candidate]:has-text("e2e loopback")');
    await page.waitForSelector('[data-testid=sp-target]');
    await shot(page, '11-status-page-edit');
    ctx.slug = await page.inputValue('input[name=slug]');
    await page.click('[data-testid=save-status-page]');
    await page.waitForSelector('[data-testid=open-public]');
    await page.goto(`${BASE}/status-pages`);
    await page.waitForSelector(`text=${title}`);
    await shot(page, '12-status-pages');
    return `/s/${ctx.slug}`;
  });

  await step('the public status page shows the target down and the incident, without login', ['slug', 'incidentId'], async () => {
    const anon = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const p = await newPage(anon);
    await p.goto(`${BASE}/s/${ctx.slug}`);
    await p.waitForSelector('[data-testid=public-status]');
    await waitFor(
      'the public page to show the outage',
      async () => {
        const tone = await p.getAttribute('[data-testid=overall]', 'data-tone');
        const incidents = await p.locator('[data-testid=public-incident]').count();
        if (tone === 'down' && incidents > 0) return true;
        await p.reload();
        await p.waitForSelector('[data-testid=public-status]');
        return false;
      },
      { timeoutMs: 60_000, intervalMs: 3000 },
    );
    const st = await p.getAttribute('[data-testid=public-target]', 'data-status');
    if (st !== 'down') throw new Error(`public target status is ${st}`);
    await p.screenshot({ path: shotPath('13-public-status'), fullPage: true });
    await anon.close();
  });

  await step('grouped outages: the incidents page lists the organisation’s group incidents', ['registered'], async () => {
    await page.goto(`${BASE}/incidents?view=groups&status=`);
    await page.waitForSelector('[data-testid=groups-table], [data-testid=groups-empty]');
    const rows = await page.locator('[data-testid=group-row]').count();
    const listed = await apiA.ok('GET', '/api/incident-groups?state=all');
    if (rows !== Math.min(listed.items.length, 50)) throw new Error(`${rows} rows for ${listed.items.length} groups`);
    return `${rows} groups`;
  });

  await step('tag dependencies: a tag depending on a target that carries it is refused, naming the cycle', ['targetId'], async () => {
    await page.goto(`${BASE}/dependencies`);
    const row = '[data-testid=tag-dep-row][data-tag="e2e"]';
    await page.waitForSelector(row);
    await page.click(`${row} [data-testid=tag-dep-edit]`);
    await page.fill(`${row} input[name=target-search]`, 'e2e loopback');
    await page.click(`${row} [data-testid=tag-dep-target-candidate]:has-text("e2e loopback")`);
    await page.click(`${row} [data-testid=tag-dep-save]`);
    const text = await (await page.waitForSelector(`${row} [data-testid=tag-dep-error]`)).textContent();
    if (!text?.includes('e2e loopback → e2e loopback')) throw new Error(`the error does not name the cycle: ${text}`);
    const stored = await apiA.ok('GET', '/api/tag-dependencies');
    if (stored.items.some((d) => d.tag === 'e2e')) throw new Error('the refused dependency was stored');
    await shot(page, '13b-tag-dependencies-cycle');
    return text;
  });

  await step('Telegram link flow shows a one-time deep link with a token', ['registered'], async () => {
    await page.goto(`${BASE}/notifications`);
    await page.click('[data-testid=link-telegram]');
    await page.waitForSelector('[data-testid=telegram-deeplink]');
    const href = await page.getAttribute('[data-testid=telegram-deeplink]', 'href');
    if (!/^https:\/\/t\.me\/[A-Za-z0-9_]+\?start=[A-Za-z0-9_-]{16,}$/.test(href ?? '')) throw new Error(`unexpected link ${href}`);
    await shot(page, '14-notifications-telegram');
    return href.replace(/start=.*/, 'start=…');
  });

  await step('add an email channel (unverified until the mail is opened)', ['registered'], async () => {
    await page.goto(`${BASE}/notifications`);
    await page.fill('input[name=email]', 'ops@e2e.test');
    await page.click('[data-testid=add-email]');
    await page.waitForSelector('[data-testid=channels-table] tr:has-text("ops@e2e.test")');
    await shot(page, '15-notifications-email');
  });

  await step('an escalation policy: the email channel now, reminders every 15 min, on the target', ['registered', 'targetId'], async () => {
    const channels = await apiA.ok('GET', '/api/channels');
    const mail = (channels.items ?? channels).find((c) => c.address === 'ops@e2e.test');
    if (!mail) throw new Error('the email channel of the previous step is not listed');
    await page.goto(`${BASE}/escalation/new`);
    await page.waitForSelector('[data-testid=policy-form]');
    await page.fill('input[name=name]', 'E2E on call');
    await page.check(`[data-step="0"] [data-channel="${mail.id}"] input`);
    await page.check('input[name=reminders]');
    await page.fill('input[name=reminder_minutes]', '15');
    await page.fill('input[name=target-search]', 'e2e loopback');
    await page.click('[data-testid=policy-target-candidate]');
    await page.waitForSelector(`[data-testid=policy-target][data-target="${ctx.targetId}"]`);
    await page.click('[data-testid=save-policy]');
    await page.waitForURL(`${BASE}/escalation`);
    await page.waitForSelector('[data-testid=policies] [data-testid=policy-steps]');
    const summary = (await page.textContent('[data-testid=policy-steps]')).trim();
    if (!/now/.test(summary)) throw new Error(`unexpected summary ${summary}`);
    const stored = await apiA.ok('GET', '/api/escalation-policies');
    const p = stored.items.find((x) => x.name === 'E2E on call');
    if (!p || p.reminder_minutes !== 15 || p.target_ids[0] !== ctx.targetId || p.steps[0].channel_ids[0] !== mail.id)
      throw new Error(`the stored policy differs: ${JSON.stringify(p)}`);
    await shot(page, '15b-escalation');
    return summary;
  });

  await step('a heartbeat: added through the form, pinged like a Healthchecks script, its page shows the pings', ['registered'], async () => {
    await page.goto(`${BASE}/targets/new`);
    await page.selectOption('select[name=kind]', 'heartbeat');
    await page.waitForSelector('[data-testid=heartbeat-fields]');
    await page.fill('input[name=name]', 'e2e nightly job');
    await page.check('input[name=heartbeat-mode][value=cron]');
    await page.fill('input[name="spec.cron"]', '0 2 * * *');
    await page.fill('input[name="spec.timezone"]', 'Europe/Moscow');
    await page.click('[data-testid=save-target]');
    await page.waitForSelector('[data-testid=heartbeat-state]');
    const pingUrl = (await page.textContent('[data-testid=ping-url]')).trim();
    const path = pingUrl.slice(pingUrl.indexOf('/ping/'));
    // The job: a start, then its exit status with its output.
    for (const [suffix, body] of [['/start', undefined], ['/0', 'dumped 42 tables']]) {
      const r = await fetch(`${API_BASE}${path}${suffix}`, { method: body ? 'POST' : 'GET', body });
      if (r.status !== 200) throw new Error(`ping ${suffix} answered ${r.status}`);
    }
    await page.reload();
    await page.waitForSelector('[data-testid=pings-table] tr[data-event=start]');
    await page.waitForSelector('[data-testid=pings-table] tr[data-event=success]');
    await page.click('[data-testid=ping-body-toggle] >> nth=0');
    const body = await page.textContent('[data-testid=ping-body]');
    if (!body.includes('dumped 42 tables')) throw new Error(`the ping's body is not shown: ${body}`);
    const next = await page.getAttribute('[data-testid=next-ping]', 'data-next');
    if (next !== 'expected') throw new Error(`the next ping should be expected, got ${next}`);
    await shot(page, '15c-heartbeat');
    return path.replace(/[0-9a-f-]{36}/, '{token}');
  });

  await step('API tokens: create one, shown once', ['registered'], async () => {
    await page.goto(`${BASE}/tokens`);
    await page.fill('input[name=token-name]', 'ci');
    await page.click('[data-testid=create-token]');
    await page.waitForSelector('[data-testid=new-token] .token-box');
    const tok = (await page.textContent('[data-testid=new-token] .token-box'))?.trim();
    if (!tok?.startsWith('pt_')) throw new Error(`token looks wrong: ${tok?.slice(0, 6)}…`);
    await shot(page, '16-tokens');
  });

  await step('import / export page', ['targetId'], async () => {
    await page.goto(`${BASE}/import`);
    const doc = await apiA.req('GET', '/api/targets/export?format=json');
    if (doc.status !== 200) throw new Error(`export → ${doc.status}`);
    await page.fill('textarea[name=import]', JSON.stringify({ version: 1, targets: [{ ...doc.body.targets[0], name: 'e2e imported', paused: true }] }, null, 2));
    await page.click('[data-testid=do-import]');
    await page.waitForSelector('[data-testid=import-result]');
    await shot(page, '17-import-export');
    return (await page.textContent('[data-testid=import-result]'))?.trim();
  });

  await step('settings, Russian UI, dark theme and a phone-sized overview', ['registered'], async () => {
    await page.goto(`${BASE}/settings`);
    await page.waitForSelector('[data-testid=language-select]');
    await shot(page, '18-settings');
    await page.selectOption('[data-testid=language-select]', 'ru');
    await page.waitForSelector('h1:has-text("Настройки")');
    await page.click('[data-testid=theme-toggle]');
    await page.goto(`${BASE}/`);
    await page.waitForSelector('h1:has-text("Обзор")');
    await shot(page, '19-overview-ru-dark');
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await phone.addCookies((await context.cookies()).filter((c) => c.name === 'pt_session'));
    const pp = await newPage(phone);
    await pp.goto(`${BASE}/`);
    await pp.waitForSelector('[data-testid=target-list]');
    await pp.screenshot({ path: shotPath('20-overview-phone') });
    if (ctx.targetId) {
      await pp.goto(`${BASE}/targets/${ctx.targetId}`);
      await pp.waitForSelector('[data-testid=target-page]');
      await pp.screenshot({ path: shotPath('21-target-phone'), fullPage: true });
    }
    await phone.close();
    await page.goto(`${BASE}/settings`);
    await page.selectOption('[data-testid=language-select]', 'en');
    await page.click('[data-testid=theme-toggle]');
  });

  await step('a second user never sees the first user’s targets', ['targetId'], async () => {
    const other = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const p = await newPage(other);
    await p.goto(`${BASE}/register`);
    await p.fill('input[name=email]', uniqueEmail('bob'));
    await p.fill('input[name=password]', password);
    await p.click('[data-testid=register-form] button[type=submit]');
    await p.waitForSelector('[data-testid=target-list]');
    await p.waitForSelector('[data-testid=target-count]');
    await p.waitForTimeout(1000);
    const rows = await p.locator('.vrow[data-target-id]').count();
    if (rows !== 0) throw new Error(`the second user sees ${rows} targets`);
    await p.screenshot({ path: shotPath('22-second-user-overview'), fullPage: true });
    await p.goto(`${BASE}/targets/${ctx.targetId}`);
    await p.waitForSelector('[role=alert]');
    const text = await p.textContent('[role=alert]');
    if (!/not found|не найдено/i.test(text ?? '')) throw new Error(`the second user opening A's target sees: ${text}`);
    await p.screenshot({ path: shotPath('23-second-user-foreign-target') });
    const apiB = new Api(BASE);
    const c = (await other.cookies()).find((x) => x.name === 'pt_session');
    apiB.cookie = `pt_session=${c.value}`;
    const direct = await apiB.req('GET', `/api/targets/${ctx.targetId}`);
    if (direct.status !== 404) throw new Error(`GET /api/targets/{A's id} as B → ${direct.status}`);
    const list = await apiB.ok('GET', '/api/targets');
    if (list.total !== 0) throw new Error(`B's /api/targets total is ${list.total}`);
    if (ctx.incidentId) {
      const inc = await apiB.req('GET', `/api/incidents/${ctx.incidentId}`);
      if (inc.status !== 404) throw new Error(`GET /api/incidents/{A's id} as B → ${inc.status}`);
    }
    await other.close();
  });

  await step('the owner creates a team organisation, adds a target there and invites a viewer (link from the page)', ['targetId'], async () => {
    // The personal target's spec, read while the session still works in the personal organisation.
    const src = await apiA.ok('GET', `/api/targets/${ctx.targetId}`);
    await page.goto(`${BASE}/organisations/new`);
    await page.click('[data-testid=create-org]');
    await page.waitForSelector('[data-testid=new-org-form] .error-text');
    await page.fill('input[name=org-name]', 'E2E Team');
    await page.click('[data-testid=create-org]');
    await page.waitForSelector('[data-testid=org-page][data-role=owner][data-personal=false]');
    const current = await page.locator('[data-testid=org-switcher] option[data-current=true]').textContent();
    if (!current?.includes('E2E Team')) throw new Error(`the switcher marks ${current} as current`);
    // The page's session now works in the team: a target created through it belongs to the team.
    const team = await apiA.ok('GET', '/api/organisation');
    if (team.name !== 'E2E Team' || team.role !== 'owner') throw new Error(`the session works in ${JSON.stringify(team)}`);
    const created = await apiA.ok('POST', '/api/targets', { name: 'e2e team target', spec: src.spec, interval_seconds: src.interval_seconds, paused: true });
    ctx.teamTargetId = created.id;
    ctx.viewerEmail = uniqueEmail('carol');
    await page.fill('input[name=invite-email]', ctx.viewerEmail);
    await page.selectOption('select[name=invite-role]', 'viewer');
    await page.click('[data-testid=invite]');
    const link = (await page.textContent('[data-testid=invite-link]'))?.trim() ?? '';
    const m = /\/invite\/([A-Za-z0-9_-]+)$/.exec(link);
    if (!m) throw new Error(`unexpected invitation link ${link}`);
    await page.waitForSelector(`[data-testid=invitation-row][data-email="${ctx.viewerEmail}"]`);
    await shot(page, '24-organisation-invite');
    ctx.invitePath = `/invite/${m[1]}`;
    return `team ${team.id}, link …/invite/{token}`;
  });

  await step('the invitee opens the link, signs up, accepts, switches organisations and sees the team target read-only', ['invitePath', 'teamTargetId'], async () => {
    const other = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const p = await newPage(other);
    const seen = ctx.page;
    ctx.page = p; // a failure's screenshot is of the invitee's page
    await p.goto(`${BASE}${ctx.invitePath}`);
    // Signed out: to the sign-in page, then to sign-up, keeping the way back.
    await p.waitForSelector('[data-testid=login-form]');
    await p.click('[data-testid=auth-switch]');
    await p.waitForSelector('[data-testid=register-form]');
    await p.fill('input[name=email]', ctx.viewerEmail);
    await p.fill('input[name=password]', password);
    await p.click('[data-testid=register-form] button[type=submit]');
    await p.waitForSelector('[data-testid=invite-summary]');
    const summary = (await p.textContent('[data-testid=invite-summary]')) ?? '';
    if (!summary.includes('E2E Team') || !summary.includes('Viewer')) throw new Error(`the invitation reads: ${summary}`);
    await p.screenshot({ path: shotPath('25-invitation'), fullPage: true });
    await p.click('[data-testid=accept-invite]');
    await p.waitForSelector('[data-testid=target-list]');
    // The switcher: to the personal organisation (no targets), then back to the team.
    await p.waitForSelector('[data-testid=org-switcher]');
    const personal = await p.locator('[data-testid=org-switcher] option', { hasText: 'Personal' }).getAttribute('value');
    const teamId = await p.locator('[data-testid=org-switcher] option', { hasText: 'E2E Team' }).getAttribute('value');
    // The accepted invitation switched the session to the team.
    await p.waitForSelector(`[data-testid=org-switcher] option[data-current=true][value="${teamId}"]`, { state: 'attached' });
    await p.selectOption('[data-testid=org-switcher]', personal);
    // Switching reloads the app: the option marked current comes from the server.
    await p.waitForSelector(`[data-testid=org-switcher] option[data-current=true][value="${personal}"]`, { state: 'attached' });
    await p.waitForSelector('[data-testid=target-count]:has-text("0")');
    const own = await p.locator('.vrow[data-target-id]').count();
    if (own !== 0) throw new Error(`the invitee's personal organisation shows ${own} targets`);
    await p.selectOption('[data-testid=org-switcher]', teamId);
    await p.waitForSelector(`[data-testid=org-switcher] option[data-current=true][value="${teamId}"]`, { state: 'attached' });
    await p.waitForSelector(`.vrow[data-target-id="${ctx.teamTargetId}"]`);
    if (await p.locator('[data-testid=add-target]').count()) throw new Error('a viewer is offered "Add target"');
    await p.screenshot({ path: shotPath('26-viewer-overview'), fullPage: true });
    await p.goto(`${BASE}/targets/${ctx.teamTargetId}`);
    await p.waitForSelector('[data-testid=target-page] [data-testid=read-only]');
    for (const sel of ['edit-target', 'delete-target', 'pause-target']) {
      if (await p.locator(`[data-testid=${sel}]`).count()) throw new Error(`a viewer sees ${sel}`);
    }
    await p.screenshot({ path: shotPath('27-viewer-target'), fullPage: true });
    // The server enforces it too: a write from this page, with the viewer's session.
    const status = await p.evaluate(async (id) => {
      const r = await fetch(`/api/targets/${id}`, { method: 'DELETE', headers: { 'content-type': 'application/json' } });
      return r.status;
    }, ctx.teamTargetId);
    if (status !== 403) throw new Error(`DELETE /api/targets/{id} as a viewer → ${status}`);
    await p.goto(`${BASE}/organisation`);
    await p.waitForSelector('[data-testid=org-page][data-role=viewer]');
    if (await p.locator('[data-testid=invite-form], [data-testid=save-org], [data-testid=open-audit]').count()) throw new Error('a viewer is offered admin controls');
    await p.waitForSelector(`[data-testid=member-row][data-email="${ctx.viewerEmail}"] [data-testid=leave-org]`);
    await other.close();
    ctx.page = seen;
    ctx.joined = true;
  });

  await step('the owner sees the new member and the audit log, filtered by resource', ['joined'], async () => {
    await page.goto(`${BASE}/organisation`);
    await page.waitForSelector(`[data-testid=member-row][data-email="${ctx.viewerEmail}"][data-role=viewer]`);
    await page.goto(`${BASE}/organisation/audit`);
    await page.waitForSelector('[data-testid=audit-row]');
    await page.selectOption('select[name=audit-resource]', 'targets');
    await waitFor(
      'only target entries',
      async () => {
        const res = await page.locator('[data-testid=audit-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-resource')));
        return res.length > 0 && res.every((r) => r === 'targets');
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    await shot(page, '28-audit');
  });

  await step('no uncaught errors in any page', [], async () => {
    if (pageErrors.length) throw new Error(pageErrors.join(' | '));
  });

  await browser.close();
  await server.close();
  await dash.close();
  const failed = results.filter((r) => r.status !== 'PASS');
  console.log(`\n${results.length - failed.length}/${results.length} steps passed; screenshots in web/test-artifacts/`);
  process.exit(failed.length ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
