// Applies the saved theme before first paint (no flash). A file of its own, not an inline
// script: the dashboard's Content-Security-Policy allows scripts from 'self' only.
try {
  var t = localStorage.getItem('pt.theme');
  if (t === 'dark' || t === 'light') document.documentElement.dataset.theme = t;
} catch (e) {}
