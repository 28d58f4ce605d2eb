import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/platform/config.ts';

describe('configuration', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, databaseUrl: undefined, host: '127.0.0.1' });
    expect(c.dataDir.endsWith('/data')).toBe(true);
  });
  it('fails fast naming the bad variable', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ MES_ADMIN_PASSWORD: 'short' })).toThrow(/MES_ADMIN_PASSWORD/);
    expect(() => loadConfig({ MES_LOG_LEVEL: 'loud' })).toThrow(/MES_LOG_LEVEL/);
  });
});
