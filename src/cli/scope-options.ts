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

export interface ScopeChoice {
  scope?: Scope;
  /** What narrows the run, for a status line (`changed since main (merge base 1a2b3c4d)`, ...). */
  labels: string[];
}

export async function scopeFrom(options: ScopeOptions, cwd: string): Promise<ScopeChoice> {
  if (options.lines && !options.changedSince) throw usageError('--lines needs --changed-since <ref>');
  const labels: string[] = [];
  const shard = shardOption(options.shard);
  let changes: Scope | undefined;
  if (options.changedSince) {
    const found = await changedSince(options.changedSince, cwd);
    changes = changedScope(found, !!options.lines);
    labels.push(`${options.lines ? 'lines' : 'files'} changed since ${options.changedSince} (merge base ${found.base.slice(0, 12)})`);
  }
  if (shard) labels.push(`shard ${shard.index}/${shard.count}`);
  let baseline: Scope | undefined;
  if (options.baseline) {
    const read = readBaseline(path.resolve(cwd, options.baseline));
    baseline = baselineScope(read);
    labels.push(`not in the baseline ${options.baseline} (${read.findings.length} recorded)`);
  }
  // The baseline comes last: its entries must only absorb findings the other scopes report.
  return { scope: combineScopes([changes, shard && shardScope(shard), baseline]), labels };
}

/** `reporting on 3 of 120 files: files changed since main (...); shard 1/4`. */
export function scopeLine(choice: ScopeChoice, inScope: number, total: number): string | undefined {
  if (!choice.labels.length) return undefined;
  return `reporting on ${inScope} of ${total} file${total === 1 ? '' : 's'}: ${choice.labels.join('; ')}`;
}
