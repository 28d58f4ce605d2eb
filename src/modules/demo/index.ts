import type { Principal } from '../../platform/principal.ts';
import type { ImportReport, ImportService, Progress } from '../imports/index.ts';
import { demoFactoryDocument } from './factory.ts';

export { demoFactoryDocument } from './factory.ts';
export { generateHistory, type GenerateOptions, type GenerateReport, type GeneratorDeps } from './history.ts';
export { reelQuantity } from './reels.ts';

/** Loads the demo factory through the same import path as any factory document. */
export async function seedDemo(imports: ImportService, who: Principal, progress?: Progress): Promise<ImportReport> {
  return imports.importFactory(who, demoFactoryDocument(), progress);
}
