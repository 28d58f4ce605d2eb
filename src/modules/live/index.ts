/**
 * Live line data pushed to dashboards: server-sent events over one shared change check per
 * line. Read-only; other modules import only this file.
 */
import type { App } from '../../platform/http.ts';
import type { Services } from '../../main.ts';
import { LiveHub, type LiveOptions } from './hub.ts';
import { registerLiveRoutes } from './routes.ts';

export { LiveHub, type LiveOptions, type Subscriber } from './hub.ts';
export { lineSnapshot, type LineSnapshot, type LiveAlert, type LiveStation } from './snapshot.ts';

/** Builds the hub over the services and registers the live routes; the hub closes with the app. */
export function registerLive(app: App, services: Pick<Services, 'db' | 'tracking' | 'equipment' | 'materials'>, opts: LiveOptions = {}): LiveHub {
  const hub = new LiveHub(services.db, { db: services.db, tracking: services.tracking, equipment: services.equipment, materials: services.materials }, {
    shortages: () => services.materials.shortages({}),
    onError: (e) => app.log.warn({ err: e }, 'live dashboard update failed'),
    ...opts,
  });
  registerLiveRoutes(app, hub, { db: services.db, equipment: services.equipment });
  return hub;
}
