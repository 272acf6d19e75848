import { defineConfig } from 'vitest/config';

// The backend serves web/dist at / with an SPA fallback; in development Vite proxies the
// API, the public status JSON and the badges to a running backend.
const backend = process.env.PINGTOWER_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    target: 'es2020',
    sourcemap: false,
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: { '/api': backend, '/status': backend, '/badge': backend },
  },
  test: {
    include: ['src/**/*.test.ts', 'e2e/**/*.test.mjs'],
    environment: 'node',
  },
});
