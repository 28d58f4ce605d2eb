import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, launchBrowser, login, menu, menuEntries, newPage, screenshot, startUiServer, type UiServer } from './support.ts';

let server: UiServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('login', () => {
  it('a wrong password shows the refusal; the right one opens the menu; logging out returns to the login', async () => {
    const admin = await createUser('admin', 'Alex Admin');
    const { page, context, errors } = await newPage(browser);
    await page.goto(server.url + '/');
    await page.getByRole('heading', { name: 'Log in', exact: true }).waitFor();
    await page.getByLabel('Username').fill(admin.username);
    await screenshot(page, 'login');

    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    const alert = page.locator('.login-error');
    await alert.waitFor();
    expect(await alert.innerText()).toBe('Unknown user or wrong password');
    expect(await menu(page).count()).toBe(0);

    await page.getByLabel('Password').fill(admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await menu(page).waitFor();
    expect(await page.getByTestId('current-user').innerText()).toContain(admin.username);
    expect(await menuEntries(page)).toContain('Users');
    await page.getByRole('heading', { name: `Welcome, ${admin.username}`, exact: true }).waitFor();
    await screenshot(page, 'home-admin');

    // A reload keeps the session (cookie); a deep link opens its screen.
    await page.goto(server.url + '/admin/users');
    await page.getByRole('heading', { name: 'Users', exact: true }).waitFor();

    // The session ends behind the UI's back (expired, revoked): the next call shows the login,
    // saying so, and logging in again continues on the same screen.
    await page.request.post(`${server.url}/api/v1/auth/logout`, { data: {} });
    await page.getByRole('link', { name: 'API tokens', exact: true }).click();
    await page.getByText('Your session has ended').waitFor();
    await page.getByLabel('Username').fill(admin.username);
    await page.getByLabel('Password').fill(admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'API tokens', exact: true }).waitFor();

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in', exact: true }).waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Log in', exact: true }).waitFor();
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('role-based menus', () => {
  const ADMIN_ONLY = ['Users', 'API tokens', 'Import'];
  const READ = ['Start', 'Products', 'Parts', 'AVL', 'Factory'];

  it('admin, operator and viewer each see only what their role may do', async () => {
    const seen: Record<string, string[]> = {};
    for (const role of ['admin', 'operator', 'viewer'] as const) {
      const u = await createUser(role);
      const { page, context, errors } = await newPage(browser);
      await login(page, server.url, u.username);
      seen[role] = await menuEntries(page);
      if (role === 'operator') await screenshot(page, 'home-operator');
      if (role === 'viewer') {
        // Read-only: no buttons that change master data, and admin screens are refused.
        await page.getByRole('link', { name: 'Products', exact: true }).first().click();
        await page.getByRole('heading', { name: 'Products', exact: true }).waitFor();
        await page.getByTestId('products').or(page.locator('.empty')).first().waitFor();
        expect(await page.getByRole('button', { name: 'New product' }).count()).toBe(0);
        await page.goto(server.url + '/admin/users');
        await page.getByText('may not open this screen').waitFor();
      }
      expect(errors).toEqual([]);
      await context.close();
    }
    for (const e of [...READ, ...ADMIN_ONLY, 'AVL check', 'Audit trail']) expect(seen.admin).toContain(e);
    for (const e of [...READ, 'AVL check']) expect(seen.operator).toContain(e);
    for (const e of [...ADMIN_ONLY, 'Audit trail']) expect(seen.operator).not.toContain(e);
    for (const e of READ) expect(seen.viewer).toContain(e);
    for (const e of [...ADMIN_ONLY, 'Audit trail', 'AVL check']) expect(seen.viewer).not.toContain(e);
    expect(new Set([seen.admin!.join(), seen.operator!.join(), seen.viewer!.join()]).size).toBe(3);
  });
});
