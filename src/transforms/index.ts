/** The registry: one line per rule. Order is the order `otpfix rules` lists them. */
import type { AnyTransform } from '../core/types.js';
import blockingHandleCall from './blocking-handle-call.js';
import blockingInit from './blocking-init.js';
import countersInState from './counters-in-state.js';
import etsArbitraryEviction from './ets-arbitrary-eviction.js';
import etsCheckThenAct from './ets-check-then-act.js';
import etsFullScanDelete from './ets-full-scan-delete.js';
import etsLazyTableCreation from './ets-lazy-table-creation.js';
import etsUnboundedGrowth from './ets-unbounded-growth.js';
import noopCleanup from './noop-cleanup.js';
import selfCall from './self-call.js';
import sendWithoutBackpressure from './send-without-backpressure.js';
import singletonBottleneck from './singleton-bottleneck.js';
import staticLookupCall from './static-lookup-call.js';
import supervisorMaxChildren from './supervisor-max-children.js';
import supervisorStopThenKill from './supervisor-stop-then-kill.js';
import syncCallInCallback from './sync-call-in-callback.js';
import taskAwaitInCallback from './task-await-in-callback.js';
import taskOwnerMismatch from './task-owner-mismatch.js';
import telemetryHandlerLeak from './telemetry-handler-leak.js';
import telemetryHandlerSyncCall from './telemetry-handler-sync-call.js';
import unboundedBatchCall from './unbounded-batch-call.js';
import unboundedStateGrowth from './unbounded-state-growth.js';
import unconfirmedCast from './unconfirmed-cast.js';
import unsupervisedSpawn from './unsupervised-spawn.js';
import unsupervisedSupervisor from './unsupervised-supervisor.js';

export const transforms: AnyTransform[] = [
  blockingHandleCall,
  blockingInit,
  countersInState,
  etsArbitraryEviction,
  etsCheckThenAct,
  etsFullScanDelete,
  etsLazyTableCreation,
  etsUnboundedGrowth,
  noopCleanup,
  selfCall,
  sendWithoutBackpressure,
  singletonBottleneck,
  staticLookupCall,
  supervisorMaxChildren,
  supervisorStopThenKill,
  syncCallInCallback,
  taskAwaitInCallback,
  taskOwnerMismatch,
  telemetryHandlerLeak,
  telemetryHandlerSyncCall,
  unboundedBatchCall,
  unboundedStateGrowth,
  unconfirmedCast,
  unsupervisedSpawn,
  unsupervisedSupervisor,
];

export function transformById(id: string): AnyTransform | undefined {
  return transforms.find((t) => t.id === id);
}
