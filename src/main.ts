import fs from 'node:fs';
import type { Config } from './platform/config.ts';
import { Db } from './platform/db.ts';
import { startEmbeddedPostgres, type EmbeddedHandle } from './platform/embedded-pg.ts';
import { createHttpApp, type App } from './platform/http.ts';
import { migrate } from './platform/migrate.ts';
import { startTableMaintenance } from './platform/maintenance.ts';
import { createAuthService, registerAuthRoutes, type AuthService } from './modules/auth/index.ts';
import { registerAuditRoutes } from './modules/audit/routes.ts';
import { createFactoryService, registerFactoryRoutes, type FactoryService } from './modules/factory/index.ts';
import { createPartsService, registerPartsRoutes, type PartsService } from './modules/parts/index.ts';
import { createProductsService, registerProductsRoutes, type ProductsService } from './modules/products/index.ts';
import { createImportService, registerImportRoutes, type ImportService } from './modules/imports/index.ts';
import { registerHealthRoutes } from './modules/health/index.ts';
import { createMaterialsService, registerMaterialsInterlockRules, registerMaterialsRoutes, type MaterialsService } from './modules/materials/index.ts';
import { createWorkOrdersService, registerWorkOrdersRoutes, type WorkOrdersService } from './modules/work-orders/index.ts';
import { createTrackingService, registerTrackingRoutes, type TrackingService } from './modules/tracking/index.ts';
import { registerWebRoutes, WEB_DIST_DIR } from './modules/web/index.ts';
import { registerLive } from './modules/live/index.ts';
import { createEquipmentService, registerEquipmentRoutes, type EquipmentService } from './modules/equipment/index.ts';
import { createIntegrations, registerIntegrationRoutes, withTransactionScopes, type Integrations } from './integrations/index.ts';
import { loadConfig } from './platform/config.ts';
import { createQualityService, registerQualityInterlockRules, registerQualityRoutes, type QualityService } from './modules/quality/index.ts';
import { createShippingService, registerShippingRoutes, type ShippingService } from './modules/shipping/index.ts';
import { createReportsService, registerReportsRoutes, type ReportsService } from './modules/reports/index.ts';
import { createRecordsService, registerRecordsRoutes, type RecordsService } from './modules/records/index.ts';
import { createTraceabilityService, registerTraceabilityRoutes, type TraceabilityService } from './modules/traceability/index.ts';

export const VERSION: string = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/** Every service of the MES, built once and handed to each door (HTTP, CLI, CFX, UI). */
export interface Services {
  db: Db;
  auth: AuthService;
  factory: FactoryService;
  parts: PartsService;
  products: ProductsService;
  imports: ImportService;
  materials: MaterialsService;
  workOrders: WorkOrdersService;
  tracking: TrackingService;
  equipment: EquipmentService;
  /** Machine integration: CFX pipeline and kept messages, MQTT telemetry, adapters started by `mes serve`. */
  integrations: Integrations;
  /** Results, defects, dispositions, NCR / rework, signatures, holds, first article, quality rules. */
  quality: QualityService;
  /** Cartons, packing, shipments, clearance and release. */
  shipping: ShippingService;
  /** Read-only reports: first-pass yield, defect and downtime Pareto, OEE by station. */
  reports: ReportsService;
  /** Signed trace packages, production extracts, the site signing key. */
  records: RecordsService;
  /** Genealogy, where-used and recall impact, containment holds. */
  traceability: TraceabilityService;
}

/** Resolves the database: DATABASE_URL, or the embedded PostgreSQL under the data directory. */
export async function openDatabase(config: Config, log: (s: string) => void = () => undefined): Promise<{ url: string; embedded: EmbeddedHandle | null }> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: null };
  const embedded = await startEmbeddedPostgres(config.dataDir, config.embeddedPgPort, log);
  return { url: embedded.connectionString, embedded };
}

/** Explicit wiring: database → services. No container; each factory gets what it needs. */
export function createServices(db: Db, config: Pick<Config, 'sessionTtlSeconds'> & Partial<Pick<Config, 'cfx' | 'mqtt' | 'dataDir'>>): Services {
  // Service calls made by the message doors (CFX, MQTT) join the message's transaction.
  db = withTransactionScopes(db);
  const auth = createAuthService(db, { sessionTtlSeconds: config.sessionTtlSeconds });
  const factory = createFactoryService(db);
  const parts = createPartsService(db);
  const products = createProductsService(db, { parts });
  const imports = createImportService(db, { factory, parts, products });
  // A setup change that needs a new first article reaches quality through this hook (quality is built below).
  const materials = createMaterialsService(db, { parts, products, factory, firstArticle: {
    requireForWorkOrder: (who, workOrderId, reason) => quality.requireFirstArticle(who, { workOrder: workOrderId, reason, source: 'setup-change' }),
    requireForLine: (who, lineId, reason) => quality.requireFirstArticleForLine(who, { lineId, reason, source: 'setup-change' }),
  } });
  const workOrders = createWorkOrdersService(db, { products });
  const tracking = createTrackingService(db, { workOrders });
  const quality = createQualityService(db, { auth, tracking, workOrders, materials });
  registerQualityInterlockRules(tracking);
  registerMaterialsInterlockRules(tracking, materials);
  const shipping = createShippingService(db, { quality, workOrders });
  const records = createRecordsService(db, { materials }, { dataDir: config.dataDir ?? loadConfig({}).dataDir });
  const traceability = createTraceabilityService(db, { materials, quality });
  const equipment = createEquipmentService(db, { afterReadings: quality.evaluateReadings });
  const reports = createReportsService(db, { equipment });
  const integrations = createIntegrations(
    { db, equipment, products, tracking, materials, workOrders, quality },
    { ...config, cfx: config.cfx ?? loadConfig({}).cfx, mqtt: config.mqtt ?? loadConfig({}).mqtt },
    { version: VERSION },
  );
  return { db, auth, factory, parts, products, imports, materials, workOrders, tracking, equipment, integrations, quality, shipping, records, traceability, reports };
}

/** Builds the HTTP app over the services: each module registers its routes. */
export async function createApp(services: Services, config: Config): Promise<App> {
  const app = await createHttpApp({ bodyLimit: config.bodyLimit, logLevel: config.logLevel, auth: services.auth, version: VERSION });
  registerHealthRoutes(app, services.db, VERSION);
  registerAuthRoutes(app, services.auth, { secureCookies: config.secureCookies, sessionTtlSeconds: config.sessionTtlSeconds });
  registerAuditRoutes(app, services.db);
  registerFactoryRoutes(app, services.factory);
  registerPartsRoutes(app, services.parts);
  registerProductsRoutes(app, services.products);
  registerImportRoutes(app, services.imports);
  registerMaterialsRoutes(app, services.materials);
  registerWorkOrdersRoutes(app, services.workOrders);
  registerTrackingRoutes(app, services.tracking);
  registerEquipmentRoutes(app, services.equipment);
  registerIntegrationRoutes(app, services.integrations);
  registerQualityRoutes(app, services.quality);
  registerShippingRoutes(app, services.shipping);
  registerReportsRoutes(app, services.reports);
  registerRecordsRoutes(app, services.records);
  registerTraceabilityRoutes(app, services.traceability);
  registerLive(app, services);
  registerWebRoutes(app, { distDir: WEB_DIST_DIR });
  return app;
}

export interface Running {
  app: App;
  services: Services;
  url: string;
  stop(): Promise<void>;
}

/** Starts the MES: database (embedded or external), migrations, first admin, HTTP server. */
export async function startServer(config: Config, out: (s: string) => void = console.log): Promise<Running> {
  const { url: dbUrl, embedded } = await openDatabase(config);
  try {
    await migrate(dbUrl, out);
    const db = new Db(dbUrl, config.dbPoolSize);
    const services = createServices(db, config);
    const admin = await services.auth.ensureAdmin(config.adminPassword);
    if (admin.generatedPassword) {
      out(`Created user "admin" with the generated password: ${admin.generatedPassword}`);
      out('(shown once; set MES_ADMIN_PASSWORD before the first start to choose it)');
    } else if (admin.created) {
      out('Created user "admin" with the password from MES_ADMIN_PASSWORD');
    }
    const app = await createApp(services, config);
    await app.listen({ port: config.port, host: config.host });
    // CFX broker consumer, request listener, MQTT subscriber: those configured.
    await services.integrations.start({ log: (msg, err) => app.log.warn({ err }, msg), databaseUrl: dbUrl }).catch(async (e) => {
      await app.close();
      throw e;
    });
    // ANALYZE / VACUUM of the MES's tables when the server's autovacuum is off.
    const maintenance = startTableMaintenance(db, config, (msg, err) => app.log.warn({ err }, msg));
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    return {
      app,
      services,
      url,
      stop: async () => {
        await maintenance.stop();
        await services.integrations.stop();
        await app.close();
        await db.close();
        await embedded?.stop();
      },
    };
  } catch (e) {
    await embedded?.stop();
    throw e;
  }
}
