// The shell: routes, the navigation bar, the theme and language switches, toasts.

import type { ComponentChildren } from 'preact';
import { lazy, Suspense } from 'preact/compat';
import { useState } from 'preact/hooks';
import { api } from './api/client';
import { Spinner } from './components/ui';
import { lang, setLang, t } from './i18n';
import { AckPage } from './pages/ack';
import { AdminUsersPage } from './pages/adminUsers';
import { AuthPage } from './pages/auth';
import { ChannelEditPage, ChannelNewPage, ChannelsPage } from './pages/channels';
import { EscalationEditPage, EscalationNewPage, EscalationPage } from './pages/escalation';
import { ImportExportPage, NotificationsPage, SettingsPage, TokensPage } from './pages/account';
import { IncidentPage, IncidentsPage } from './pages/incidents';
import { AuditPage, InvitePage, NewOrganisationPage, OrganisationPage, OrgSwitcher } from './pages/organisation';
import { OverviewPage } from './pages/overview';
import { PublicStatusPage, StatusPageEdit, StatusPagesPage } from './pages/statusPages';
import { TargetPage } from './pages/target';
import { TargetEditPage } from './pages/targetEdit';
import { SecurityPage } from './pages/security';
import { TwoFactorBanner } from './components/twoFactor';
import { canManage } from './state/organisation';
import { matchPath, navigate, useLocation, type Params } from './router';
import { role, setTheme, theme, toasts, updateUser, user } from './session';

// Pages few visit, loaded when opened.
const TagDependenciesPage = lazy(() => import('./pages/tagDependencies').then((m) => ({ default: m.TagDependenciesPage })));
const GroupPage = lazy(() => import('./pages/incidentGroup').then((m) => ({ default: m.GroupPage })));

type PageComponent = (p: { params: Params; search: URLSearchParams }) => preact.JSX.Element | null;

interface Route {
  path: string;
  page: PageComponent;
  public?: boolean;
  bare?: boolean;
}

const routes: Route[] = [
  { path: '/', page: () => <OverviewPage /> },
  { path: '/targets/new', page: () => <TargetEditPage /> },
  { path: '/targets/:id', page: ({ params }) => <TargetPage id={params.id!} key={params.id} /> },
  { path: '/targets/:id/edit', page: ({ params }) => <TargetEditPage id={params.id!} key={params.id} /> },
  { path: '/incidents', page: ({ search }) => <IncidentsPage search={search} /> },
  { path: '/incidents/:id', page: ({ params }) => <IncidentPage id={params.id!} key={params.id} /> },
  {
    path: '/incidents/groups/:id',
    page: ({ params }) => (
      <Suspense fallback={<Spinner />}>
        <GroupPage id={params.id!} key={params.id} />
      </Suspense>
    ),
  },
  {
    path: '/dependencies',
    page: () => (
      <Suspense fallback={<Spinner />}>
        <TagDependenciesPage />
      </Suspense>
    ),
  },
  { path: '/notifications', page: () => <NotificationsPage /> },
  { path: '/channels', page: () => <ChannelsPage /> },
  { path: '/channels/new', page: ({ search }) => <ChannelNewPage search={search} /> },
  { path: '/channels/:id', page: ({ params }) => <ChannelEditPage id={params.id!} key={params.id} /> },
  { path: '/escalation', page: () => <EscalationPage /> },
  { path: '/escalation/new', page: () => <EscalationNewPage /> },
  { path: '/escalation/:id', page: ({ params }) => <EscalationEditPage id={params.id!} key={params.id} /> },
  { path: '/tokens', page: () => <TokensPage /> },
  { path: '/status-pages', page: () => <StatusPagesPage /> },
  { path: '/status-pages/new', page: () => <StatusPageEdit /> },
  { path: '/status-pages/:id', page: ({ params }) => <StatusPageEdit id={params.id!} key={params.id} /> },
  { path: '/import', page: () => <ImportExportPage /> },
  { path: '/settings', page: () => <SettingsPage /> },
  { path: '/admin/users', page: () => <AdminUsersPage /> },
  { path: '/account/security', page: () => <SecurityPage /> },
  { path: '/organisation', page: () => <OrganisationPage /> },
  { path: '/organisation/audit', page: () => <AuditPage /> },
  { path: '/organisations/new', page: () => <NewOrganisationPage /> },
  // An invitation link: signed out, the app sends to /login?next=… (and on to sign-up) and back here.
  { path: '/invite/:token', page: ({ params }) => <InvitePage token={params.token!} key={params.token} /> },
  { path: '/s/:slug', page: ({ params }) => <PublicStatusPage slug={params.slug!} />, bare: true },
  // An alert's acknowledgement link: works signed out, and only reads until its button is pressed.
  { path: '/ack/:token', page: ({ params }) => <AckPage token={params.token!} key={params.token} />, bare: true },
];


export function App() {
  const loc = useLocation();
  const path = loc.path.replace(/\/+$/, '') || '/';

  if (path === '/login' || path === '/register') {
    if (user.value) {
      navigate(loc.search.get('next') ?? '/', true);
      return null;
    }
    return (
      <>
        <AuthPage mode={path === '/login' ? 'login' : 'register'} next={loc.search.get('next')} />
        <Corner />
        <Toasts />
      </>
    );
  }

  let match: { route: Route; params: Params } | null = null;
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (params) {
      match = { route, params };
      break;
    }
  }

  if (match?.route.bare) {
    const Page = match.route.page;
    return (
      <>
        <Page params={match.params} search={loc.search} />
        <Corner />
      </>
    );
  }

  if (user.value === undefined) return <Spinner />;
  if (user.value === null) {
    navigate(`/login${path === '/' ? '' : `?next=${encodeURIComponent(path + (loc.search.toString() ? `?${loc.search}` : ''))}`}`, true);
    return null;
  }

  const Page = match?.route.page;
  return (
    <Shell path={path}>
      {Page ? <Page params={match!.params} search={loc.search} /> : <div class="page"><h1>404</h1><p>{t('common.notFound')}</p></div>}
    </Shell>
  );
}

const NAV: { href: string; key: Parameters<typeof t>[0]; admin?: boolean; manage?: boolean }[] = [
  { href: '/', key: 'nav.overview' },
  { href: '/incidents', key: 'nav.incidents' },
  { href: '/notifications', key: 'nav.notifications' },
  { href: '/channels', key: 'nav.channels' },
  { href: '/escalation', key: 'nav.escalation' },
  { href: '/status-pages', key: 'nav.statusPages' },
  { href: '/tokens', key: 'nav.tokens' },
  { href: '/import', key: 'nav.import' },
  { href: '/organisation', key: 'nav.organisation' },
  { href: '/settings', key: 'nav.settings' },
  { href: '/account/security', key: 'nav.security' },
  { href: '/admin/users', key: 'nav.users', admin: true },
];

function Shell({ path, children }: { path: string; children: ComponentChildren }) {
  const [open, setOpen] = useState(false);
  const active = (href: string) => (href === '/' ? path === '/' || path.startsWith('/targets') : path.startsWith(href));
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="/">
          <span class="logo" aria-hidden="true" /> PingTower
        </a>
        <button type="button" class="btn menu-btn" aria-label={t('nav.menu')} aria-expanded={open} onClick={() => setOpen(!open)}>
          ☰
        </button>
        <nav class={open ? 'nav open' : 'nav'} onClick={() => setOpen(false)}>
          {NAV.filter((n) => (!n.admin || user.value?.is_admin) && (!n.manage || canManage(role.value))).map((n) => (
            <a href={n.href} class={active(n.href) ? 'active' : ''} data-nav={n.href}>
              {t(n.key)}
            </a>
          ))}
        </nav>
        <div class="top-actions">
          <OrgSwitcher />
          <Switches />
          <span class="muted user-email" title={user.value?.email}>
            {user.value?.email}
          </span>
          <button
            type="button"
            class="btn btn-small"
            data-testid="logout"
            onClick={async () => {
              try {
                await api.logout();
              } finally {
                user.value = null;
                navigate('/login', true);
              }
            }}
          >
            {t('nav.logout')}
          </button>
        </div>
      </header>
      <main>
        <TwoFactorBanner />
        {children}
      </main>
      <Toasts />
    </div>
  );
}

function Switches() {
  return (
    <>
      <button
        type="button"
        class="btn btn-small"
        data-testid="theme-toggle"
        title={t('theme.toggle')}
        aria-label={t('theme.toggle')}
        onClick={() => setTheme(theme.value === 'dark' ? 'light' : 'dark')}
      >
        {theme.value === 'dark' ? '☀' : '☾'}
      </button>
      <button
        type="button"
        class="btn btn-small"
        data-testid="lang-toggle"
        title={t('lang.label')}
        onClick={() => {
          const next = lang.value === 'en' ? 'ru' : 'en';
          setLang(next);
          if (user.value) void api.setLanguage(next).then(updateUser, () => undefined);
        }}
      >
        {lang.value === 'en' ? 'RU' : 'EN'}
      </button>
    </>
  );
}

/** Theme and language switches on pages without the navigation bar. */
function Corner() {
  return (
    <div class="corner">
      <Switches />
    </div>
  );
}

function Toasts() {
  return (
    <div class="toasts" aria-live="polite">
      {toasts.value.map((x) => (
        <div class={`toast toast-${x.tone}`}>{x.text}</div>
      ))}
    </div>
  );
}
