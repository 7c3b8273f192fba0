/** The registry: one line per rule. Order is the order `otpfix rules` lists them. */
import type { AnyTransform } from '../core/types.js';
import etsArbitraryEviction from './ets-arbitrary-eviction.js';
import etsCheckThenAct from './ets-check-then-act.js';
import etsFullScanDelete from './ets-full-scan-delete.js';
import etsLazyTableCreation from './ets-lazy-table-creation.js';
import supervisorMaxChildren from './supervisor-max-children.js';

export const transforms: AnyTransform[] = [
  supervisorMaxChildren,
  etsCheckThenAct,
  etsLazyTableCreation,
  etsArbitraryEviction,
  etsFullScanDelete,
];

export function transformById(id: string): AnyTransform | undefined {
  return transforms.find((t) => t.id === id);
}
