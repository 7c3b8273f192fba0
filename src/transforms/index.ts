/** The registry: one line per rule. Order is the order `otpfix rules` lists them. */
import type { AnyTransform } from '../core/types.js';
import blockingHandleCall from './blocking-handle-call.js';
import etsUnboundedGrowth from './ets-unbounded-growth.js';
import selfCall from './self-call.js';
import staticLookupCall from './static-lookup-call.js';
import supervisorMaxChildren from './supervisor-max-children.js';
import syncCallInCallback from './sync-call-in-callback.js';
import taskAwaitInCallback from './task-await-in-callback.js';
import telemetryHandlerLeak from './telemetry-handler-leak.js';
import telemetryHandlerSyncCall from './telemetry-handler-sync-call.js';
import unconfirmedCast from './unconfirmed-cast.js';

export const transforms: AnyTransform[] = [
  blockingHandleCall,
  etsUnboundedGrowth,
  selfCall,
  staticLookupCall,
  supervisorMaxChildren,
  syncCallInCallback,
  taskAwaitInCallback,
  telemetryHandlerLeak,
  telemetryHandlerSyncCall,
  unconfirmedCast,
];

export function transformById(id: string): AnyTransform | undefined {
  return transforms.find((t) => t.id === id);
}
