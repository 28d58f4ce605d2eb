import { allows, type Role } from '../roles.ts';
import { matchPath } from '../router.tsx';
import { MODULES } from './modules.ts';
import { SECTIONS, type Screen, type SectionId } from './registry.ts';

let screens: Screen[] | undefined;
/** Every screen of every module (computed on first use: screens may import this file). */
export function allScreens(): Screen[] {
  screens ??= MODULES.flatMap((m) => m.screens);
  return screens;
}

/** The screen for a path and its parameters; the first matching pattern wins. */
export function findScreen(path: string): { screen: Screen; params: Record<string, string> } | null {
  for (const screen of allScreens()) {
    const params = matchPath(screen.path, path);
    if (params) return { screen, params };
  }
  return null;
}

export interface MenuSection {
  id: SectionId;
  label: string;
  entries: { path: string; label: string; description?: string }[];
}

/** The menu for a role: only screens it may open, grouped and ordered. */
export function menuFor(role: Role | undefined): MenuSection[] {
  return SECTIONS.map((s) => ({
    id: s.id,
    label: s.label,
    entries: allScreens().filter((sc) => sc.nav?.section === s.id && allows(sc.roles, role))
      .sort((a, b) => a.nav!.order - b.nav!.order)
      .map((sc) => ({ path: sc.nav!.to ?? sc.path.replace(/\/:[^/]+\?/g, ''), label: sc.nav!.label, ...(sc.nav!.description ? { description: sc.nav!.description } : {}) })),
  })).filter((s) => s.entries.length > 0);
}
