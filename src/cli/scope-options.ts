/** The CI options that narrow what scan and fix report: --changed-since/--lines, --shard, --baseline. */
import path from 'node:path';
import { baselineScope, readBaseline } from '../core/baseline.js';
import { usageError } from '../core/errors.js';
import { combineScopes, parseShard, shardScope, type Scope, type Shard } from '../core/scope.js';
import { changedScope, changedSince } from './changed-since.js';

export interface ScopeOptions {
  changedSince?: string;
  lines?: boolean;
  shard?: string;
  baseline?: string;
}

export function shardOption(text: string | undefined): Shard | undefined {
  if (text === undefined) return undefined;
  const shard = parseShard(text);
  if (!shard) throw usageError(`--shard must be i/n with 1 ≤ i ≤ n (got "${text}")`, 'E.g. --shard 2/4 for the second of four CI jobs.');
  return shard;
}

export async function scopeFrom(options: ScopeOptions, cwd: string, extra: Array<Scope | undefined> = []): Promise<Scope | undefined> {
  if (options.lines && !options.changedSince) throw usageError('--lines needs --changed-since <ref>');
  const shard = shardOption(options.shard);
  const changes = options.changedSince ? changedScope(await changedSince(options.changedSince, cwd), !!options.lines) : undefined;
  const baseline = options.baseline ? baselineScope(readBaseline(path.resolve(cwd, options.baseline))) : undefined;
  // The baseline comes last: its entries must only absorb findings the other scopes report.
  return combineScopes([changes, shard && shardScope(shard), ...extra, baseline]);
}
