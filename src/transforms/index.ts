/** The registry: one line per rule. Order is the order `otpfix rules` lists them. */
import type { AnyTransform } from '../core/types.js';
import blockingHandleCall from './blocking-handle-call.js';
import supervisorMaxChildren from './supervisor-max-children.js';
import taskAwaitInCallback from './task-await-in-callback.js';

export const transforms: AnyTransform[] = [
  blockingHandleCall,
  supervisorMaxChildren,
  taskAwaitInCallback,
];

export function transformById(id: string): AnyTransform | undefined {
  return transforms.find((t) => t.id === id);
}
