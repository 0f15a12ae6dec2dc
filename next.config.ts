import type { NextConfig } from 'next';

const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The custom server (server/index.ts) owns /api/*, /healthz, /readyz, /metrics and /api/ws.
  typescript: { ignoreBuildErrors: false },
};

export default config;
