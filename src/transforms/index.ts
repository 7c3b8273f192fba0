/** The registry: one line per rule. Order is the order `otpfix rules` lists them. */
import type { AnyTransform } from '../core/types.js';
import supervisorMaxChildren from './supervisor-max-children.js';
import blockingInit from './blocking-init.js';
import sendWithoutBackpressure from './send-without-backpressure.js';
import unboundedBatchCall from './unbounded-batch-call.js';
import unsupervisedSupervisor from './unsupervised-supervisor.js';
import supervisorStopThenKill from './supervisor-stop-then-kill.js';
import unboundedStateGrowth from './unbounded-state-growth.js';
import noopCleanup from './noop-cleanup.js';
import singletonBottleneck from './singleton-bottleneck.js';
import countersInState from './counters-in-state.js';
import unsupervisedSpawn from './unsupervised-spawn.js';
import taskOwnerMismatch from './task-owner-mismatch.js';

export const transforms: AnyTransform[] = [
  supervisorMaxChildren,
  blockingInit,
  sendWithoutBackpressure,
  unboundedBatchCall,
  unsupervisedSupervisor,
  supervisorStopThenKill,
  unboundedStateGrowth,
  noopCleanup,
  singletonBottleneck,
  countersInState,
  unsupervisedSpawn,
  taskOwnerMismatch,
];

export function transformById(id: string): AnyTransform | undefined {
  return transforms.find((t) => t.id === id);
}
