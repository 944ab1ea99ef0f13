/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Built into the server's wwwroot (served at /studio by src/RuleFlow.Server/Studio/StudioEndpoints.cs).
// `npm run dev` serves on 127.0.0.1:5173 and proxies /api and /openapi to a server on 127.0.0.1:5080 (RULEFLOW_SERVER overrides).
const server = process.env.RULEFLOW_SERVER ?? 'http://127.0.0.1:5080';

export default defineConfig({
  base: '/studio/',
  plugins: [react()],
  build: {
    outDir: '../RuleFlow.Server/wwwroot/studio',
    emptyOutDir: true,
    chunkSizeWarningLimit: 5000,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    fs: { allow: ['.', '../../docs'] },
    proxy: { '/api': { target: server, changeOrigin: false }, '/openapi': server, '/health': server },
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
