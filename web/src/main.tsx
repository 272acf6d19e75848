import { render } from 'preact';
import { App } from './app';
import { api } from './api/client';
import { initialLang, setLang } from './i18n';
import { installLinkInterceptor, navigate } from './router';
import { initTheme, loadSession, user } from './session';
import { installTwoFactorGate } from './components/twoFactor';
import './styles.css';

let saved: string | null = null;
try {
  saved = localStorage.getItem('pt.lang');
} catch {
  /* private mode */
}
setLang(initialLang(saved, navigator.language));
initTheme();
installLinkInterceptor();
api.onUnauthorized = () => {
  if (user.value) {
    user.value = null;
    navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, true);
  }
};
installTwoFactorGate(api);
void loadSession();
render(<App />, document.getElementById('app')!);
