/**
 * Which findings a run reports (`--changed-since`, `--shard`, `--baseline`): the analysis always
 * reads the whole project (cross-module facts need every file); a scope only narrows what is
 * reported and rewritten. Detection is skipped in files outside the scope.
 */
import { createHash } from 'node:crypto';
import type { Finding } from './types.js';
import type { Workspace } from './workspace.js';

export interface ScopedFile {
  /** Absolute. */
  path: string;
  /** Relative to the working directory. */
  relPath: string;
}

export interface Scope {
  /** Whether findings in this file may be reported at all (a file model, or a file that could not be analysed). */
  file?(file: ScopedFile): boolean;
  /** The findings to report among those detected in the scoped files (all of one run). */
  findings?(findings: Finding[], ws: Workspace): Finding[];
}

/** Every scope must agree: files in all of them, findings kept by each filter in turn. */
export function combineScopes(scopes: Array<Scope | undefined>): Scope | undefined {
  const list = scopes.filter((s): s is Scope => !!s);
  if (!list.length) return undefined;
  if (list.length === 1) return list[0];
  return {
    file: (f) => list.every((s) => !s.file || s.file(f)),
    findings: (found, ws) => list.reduce((acc, s) => (s.findings ? s.findings(acc, ws) : acc), found),
  };
}

/** Shard `index` (1-based) of `count`: a file belongs to exactly one shard, by a stable hash of its path. */
export function shardOf(relPath: string, count: number): number {
  const digest = createHash('sha256').update(relPath.split('\\').join('/')).digest();
  return (digest.readUInt32BE(0) % count) + 1;
}

export interface Shard {
  index: number;
  count: number;
}

/** `i/n` with 1 ≤ i ≤ n; undefined when malformed. */
export function parseShard(text: string): Shard | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return count >= 1 && index >= 1 && index <= count ? { index, count } : undefined;
}

export function shardScope(shard: Shard): Scope {
  return { file: (f) => shardOf(f.relPath, shard.count) === shard.index };
}
