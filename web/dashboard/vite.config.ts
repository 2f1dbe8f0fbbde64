import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The gateway (web/gateway) serves dist/ and the API on one origin; in `npm run dev` the
// API routes are proxied to a gateway on loopback.
const gateway = 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  plugins: [react()],
  resolve: {
    // `@/x` is `src/x`; a leading `/` is resolved from the project root by Vite.
    alias: [{ find: /^@\//, replacement: '/src/' }],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 4096,
  },
  server: {
    proxy: {
      '/api': { target: gateway, changeOrigin: false },
      '/healthz': { target: gateway },
      '/readyz': { target: gateway },
      '/metrics': { target: gateway },
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/testing/setup.ts'],
    include: ['src/**/__tests__/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    css: false,
  },
});
