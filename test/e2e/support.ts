import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import type { App } from '../../src/platform/http.ts';
import type { UserRole } from '../../src/platform/principal.ts';
import { system, testApp, testServices, uniq } from '../helpers.ts';

/**
 * Browser-test support: the built UI, a real MES server on an ephemeral port over the test
 * database, Debian Chromium driven by playwright-core, users per role, screenshots.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEB_DIR = path.join(ROOT, 'web');
const DIST_INDEX = path.join(ROOT, 'dist', 'web', 'index.html');
const LOCK_DIR = path.join(ROOT, '.tmp', 'web-build.lock');
export const SCREENSHOT_DIR = path.join(ROOT, 'docs', 'screenshots');

/** Sources the build depends on besides web/: the role list is imported from the server. */
const EXTRA_SOURCES = [path.join(ROOT, 'src', 'platform', 'principal.ts'), path.join(ROOT, 'package-lock.json')];

function newestMtime(p: string): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const e of fs.readdirSync(p)) {
    if (e === 'node_modules' || e.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(path.join(p, e)));
  }
  return newest;
}

function buildIsStale(): boolean {
  let built: number;
  try {
    built = fs.statSync(DIST_INDEX).mtimeMs;
  } catch {
    return true;
  }
  return Math.max(newestMtime(WEB_DIR), ...EXTRA_SOURCES.map(newestMtime)) > built;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds the UI (vite build → dist/web) when it is missing or older than its sources. Test files
 * run in parallel processes: a lock directory makes one build while the others wait for it.
 */
export async function ensureWebBuilt(): Promise<void> {
  if (!buildIsStale()) return;
  fs.mkdirSync(path.dirname(LOCK_DIR), { recursive: true });
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      fs.mkdirSync(LOCK_DIR);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Someone else is building; a lock older than two minutes was left by a killed run.
      try {
        if (Date.now() - fs.statSync(LOCK_DIR).mtimeMs > 120_000) fs.rmSync(LOCK_DIR, { recursive: true, force: true });
      } catch {
        /* removed meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`Timed out waiting for the UI build (lock ${LOCK_DIR})`);
      await sleep(200);
      if (!buildIsStale()) return;
      continue;
    }
    try {
      if (!buildIsStale()) return;
      const { build } = await import('vite');
      // Vitest sets NODE_ENV=test, and Vite keeps a NODE_ENV it finds: React would be bundled in its
      // development build (larger, slower), unlike `npm run build:web`. The browser tests measure
      // the production bundle, the one the MES serves.
      const nodeEnv = process.env.NODE_ENV;
      process.env.NODE_ENV = 'production';
      try {
        await build({ configFile: path.join(WEB_DIR, 'vite.config.ts'), logLevel: 'warn', mode: 'production' });
      } finally {
        process.env.NODE_ENV = nodeEnv;
      }
      return;
    } finally {
      fs.rmSync(LOCK_DIR, { recursive: true, force: true });
    }
  }
}

export interface UiServer {
  app: App;
  url: string;
  close(): Promise<void>;
}

/** The real MES (API + UI) listening on an ephemeral loopback port. */
export async function startUiServer(): Promise<UiServer> {
  await ensureWebBuilt();
  const app = await testApp();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath}: install it (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

export const VIEWPORT = { width: 1280, height: 800 };

export interface UiPage {
  page: Page;
  context: BrowserContext;
  /** Uncaught errors in the page; a test ends by checking there are none. */
  errors: string[];
}

/** A fresh browser context (own cookies) with a 1280×800 page and bounded waits. */
export async function newPage(browser: Browser): Promise<UiPage> {
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, locale: 'en-GB', timezoneId: 'UTC', reducedMotion: 'reduce' });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // 4xx answers are refusals the UI shows; a 5xx or a script error is a failure.
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) errors.push(m.text());
  });
  return { page, context, errors };
}

export const PASSWORD = 'e2e-password-1';

/** A user of the given role, created through the service (not the UI). */
export async function createUser(role: UserRole, displayName?: string): Promise<{ username: string; password: string; id: number }> {
  const username = `${role}-${uniq('').toLowerCase()}`;
  const u = await testServices().auth.createUser(system, { username, role, password: PASSWORD, ...(displayName ? { displayName } : {}) });
  return { username, password: PASSWORD, id: u.id };
}

export const menu = (page: Page): Locator => page.getByTestId('main-menu');

/** Logs in through the login form and waits for the menu. */
export async function login(page: Page, baseUrl: string, username: string, password = PASSWORD, path = '/'): Promise<void> {
  await page.goto(baseUrl + path);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await menu(page).waitFor();
}

/** The labels of the main menu, in order. */
export async function menuEntries(page: Page): Promise<string[]> {
  return (await menu(page).getByRole('link').allInnerTexts()).map((s) => s.trim());
}

/** Navigates inside the app by clicking a menu entry (no page load). */
export async function openMenu(page: Page, label: string): Promise<void> {
  await menu(page).getByRole('link', { name: label, exact: true }).click();
}

/** Saves the visible 1280×800 viewport as docs/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // Let fonts settle and any spinner disappear first.
  await page.evaluate('document.fonts.ready');
  await page.locator('.loading').first().waitFor({ state: 'detached', timeout: 5_000 }).catch(() => undefined);
  await page.mouse.move(0, 0);
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), animations: 'disabled', caret: 'hide' });
}

/** Whether the element with this id has the keyboard focus. */
export async function hasFocus(page: Page, id: string): Promise<boolean> {
  return (await page.evaluate(`document.activeElement ? document.activeElement.id : ''`)) === id;
}

/**
 * Polls `read` until `ok` holds (bounded), then returns the last value, for assertions on a page
 * that is still updating (a list reloading after a save).
 */
export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
