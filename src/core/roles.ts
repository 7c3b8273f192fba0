/**
 * What part of a project a file belongs to: production code, or tests, examples, benchmarks and docs,
 * whose findings are `info` and never rewritten by default (docs/severity.md).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export type CodeRole = 'production' | 'test' | 'example' | 'bench' | 'docs';

/** How findings in non-production code are reported: as info (default), like production code, or not at all. */
export type NonProductionMode = 'info' | 'full' | 'off';
export const NON_PRODUCTION_MODES: NonProductionMode[] = ['info', 'full', 'off'];

const ROLE_BY_DIRECTORY: Record<string, CodeRole> = {
  test: 'test',
  tests: 'test',
  integration_test: 'test',
  examples: 'example',
  example: 'example',
  bench: 'bench',
  benchmark: 'bench',
  benchmarks: 'bench',
  docs: 'docs',
  guides: 'docs',
};

export const ROLE_NAMES: Record<Exclude<CodeRole, 'production'>, string> = {
  test: 'test code',
  example: 'example code',
  bench: 'benchmark code',
  docs: 'documentation',
};

const projectRoots = new Map<string, string | null>();

/** The directory of the nearest `mix.exs` at or above `dir`, or null. */
export function mixProjectRoot(dir: string): string | null {
  const known = projectRoots.get(dir);
  if (known !== undefined) return known;
  const parent = path.dirname(dir);
  const root = existsSync(path.join(dir, 'mix.exs')) ? dir : parent === dir ? null : mixProjectRoot(parent);
  projectRoots.set(dir, root);
  return root;
}

/**
 * The role of a file, judged by its path inside its Mix project (the nearest `mix.exs`), so that the
 * directories above the project (a checkout under `~/test/`) never count; without a Mix project, by
 * its path relative to the working directory.
 */
export function codeRole(absPath: string, relPath: string): CodeRole {
  const root = mixProjectRoot(path.dirname(absPath));
  const inside = root ? path.relative(root, absPath) : relPath.startsWith('..') ? absPath : relPath;
  const parts = inside.split(/[\\/]/);
  const name = parts.pop() ?? '';
  if (/_test\.exs?$/.test(name)) return 'test';
  for (const dir of parts) {
    const role = ROLE_BY_DIRECTORY[dir];
    if (role) return role;
  }
  return 'production';
}
