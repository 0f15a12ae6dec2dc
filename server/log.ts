/** Structured logs (pino, JSON on stdout). `LOG_LEVEL` overrides the level. */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(options: { level?: string } = {}): Logger {
  return pino({
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { app: 'switchboard' },
    // Tokens must never reach a log line, whatever object gets logged.
    redact: { paths: ['token', '*.token', 'headers.authorization', 'headers.cookie', 'headers["x-consul-token"]'], censor: '[redacted]' },
  });
}
