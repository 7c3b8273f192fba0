/** The registry: one line per rule. Order is the order `otpfix rules` lists them. */
import type { AnyTransform } from '../core/types.js';
import selfCall from './self-call.js';
import staticLookupCall from './static-lookup-call.js';
import supervisorMaxChildren from './supervisor-max-children.js';
import syncCallInCallback from './sync-call-in-callback.js';
import telemetryHandlerLeak from './telemetry-handler-leak.js';
import telemetryHandlerSyncCall from './telemetry-handler-sync-call.js';
import unconfirmedCast from './unconfirmed-cast.js';

export const transforms: AnyTransform[] = [
  supervisorMaxChildren,
  telemetryHandlerSyncCall,
  telemetryHandlerLeak,
  selfCall,
  syncCallInCallback,
  staticLookupCall,
  unconfirmedCast,
];

export function transformById(id: string): AnyTransform | undefined {
  return transforms.find((t) => t.id === id);
}
