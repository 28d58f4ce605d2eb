import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * The MES web UI. `npm run build:web` writes dist/web (served by the MES at /);
 * `npm run dev:web` serves it with hot reload on :5173 and forwards /api to the MES on :8080
 * (override with MES_API_URL).
 */
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [react()],
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    port: 5173,
    proxy: {
      '/api': { target: process.env.MES_API_URL ?? 'http://localhost:8080', changeOrigin: false },
    },
  },
  preview: { port: 4173 },
});
