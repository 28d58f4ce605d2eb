import { equipmentHandlers } from './equipment.ts';
import { materialsHandlers } from './materials.ts';
import { productionHandlers } from './production.ts';
import { qualityHandlers } from './quality.ts';
import { requestHandlers } from './requests.ts';
import { HandlerRegistry, type HandlerSpec } from './types.ts';
import type { SupportedMessageName } from '../messages.ts';

export * from './types.ts';
export { CFX_FAILURE_CODES, type CfxFailureCode } from './requests.ts';
export { identifiersOf, refusalOf } from './production.ts';
export { resolveProgram } from './materials.ts';

/** Every supported CFX message with its handler: the default dispatch table. */
export function defaultHandlers(): HandlerRegistry {
  const r = new HandlerRegistry();
  const all = [...equipmentHandlers, ...productionHandlers, ...materialsHandlers, ...qualityHandlers, ...requestHandlers] as unknown as HandlerSpec<SupportedMessageName>[];
  for (const h of all) r.register(h);
  return r;
}
