import type { ComponentType } from 'react';
import type { Roles } from '../roles.ts';

/**
 * How screens plug into the app. Each module (web/src/modules/<name>/index.ts) exports a
 * WebModule listing its screens; web/src/app/modules.ts lists the modules. The shell builds
 * the menu and the routes from that list, showing each role only the screens it may use.
 */

/** Menu sections, in menu order. A section with no screen for the role is not shown. */
export const SECTIONS = [
  { id: 'start', label: '' },
  { id: 'floor', label: 'Shop floor' },
  { id: 'production', label: 'Production' },
  { id: 'materials', label: 'Materials' },
  { id: 'quality', label: 'Quality' },
  { id: 'traceability', label: 'Traceability' },
  { id: 'shipping', label: 'Shipping' },
  { id: 'reports', label: 'Reports' },
  { id: 'master-data', label: 'Master data' },
  { id: 'admin', label: 'Administration' },
] as const;
export type SectionId = (typeof SECTIONS)[number]['id'];

export interface ScreenProps {
  /** Path parameters of the screen's pattern, e.g. { id: '12', tab: 'bom' }. */
  params: Record<string, string>;
  query: URLSearchParams;
}

export interface Screen {
  /** Path pattern: `/products/:id`, optional parameters end with `?`. */
  path: string;
  title: string;
  /** Who may open it: mirror the roles of the API routes the screen needs. */
  roles: Roles;
  component: ComponentType<ScreenProps>;
  /** For screens not in the menu: the menu entry (its path) to highlight, e.g. '/products'. */
  menu?: string;
  /** Present for screens that appear in the menu. */
  nav?: { section: SectionId; label: string; order: number; description?: string; /** Menu link; defaults to the path without its optional parameters. */ to?: string };
}

export interface WebModule {
  id: string;
  screens: Screen[];
}
