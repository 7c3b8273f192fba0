/**
 * `--changed-since <ref>`: what changed between the merge base of <ref> and HEAD and the work tree
 * (committed, staged, unstaged and untracked), as files and, for `--lines`, line numbers of the
 * new text. A pull request check then reports only what the pull request introduced.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { usageError } from '../core/errors.js';
import type { Scope, ScopedFile } from '../core/scope.js';
import type { Finding } from '../core/types.js';
import { positionOf } from '../core/position.js';
import { Git } from './review/git.js';

export interface ChangedSince {
  /** Real absolute path → changed line numbers (1-based) of the current text; `all` for new files. */
  files: Map<string, Set<number> | 'all'>;
  /** The commit compared with. */
  base: string;
}

/** Unquote a path as git prints it in diff headers (C-style quoting when core.quotePath applies). */
function unquote(p: string): string {
  if (!p.startsWith('"')) return p;
  const bytes: number[] = [];
  const body = p.slice(1, -1);
  const simple: Record<string, number> = { n: 10, t: 9, '"': 34, '\\': 92, a: 7, b: 8, f: 12, r: 13, v: 11 };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== '\\') {
      bytes.push(...Buffer.from(ch, 'utf8'));
      continue;
    }
    const next = body[++i];
    if (/[0-7]/.test(next)) {
      bytes.push(parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else bytes.push(simple[next] ?? next.charCodeAt(0));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Changed lines per new path, from `git diff --unified=0` output. */
export function parseUnifiedZero(diff: string): Map<string, Set<number> | 'all'> {
  const out = new Map<string, Set<number> | 'all'>();
  let current: Set<number> | undefined;
  let fromNull = false;
  for (const line of diff.split('\n')) {
    if (line.startsWith('diff --git ')) {
      current = undefined;
      fromNull = false;
    } else if (line.startsWith('--- ')) fromNull = line === '--- /dev/null';
    else if (line.startsWith('+++ ')) {
      const target = line.slice(4);
      current = undefined;
      if (target === '/dev/null') continue;
      const rel = unquote(target).replace(/^b\//, '');
      if (fromNull) out.set(rel, 'all');
      else {
        current = new Set();
        out.set(rel, current);
      }
    } else if (line.startsWith('@@ ') && current) {
      const m = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@/.exec(line);
      if (!m) continue;
      const start = Number(m[1]);
      const count = m[2] === undefined ? 1 : Number(m[2]);
      // A pure deletion sits between line `start` and the next: both neighbours count as changed
      // (deleting `max_children: 10` makes the line above it a finding).
      if (count === 0) [start, start + 1].forEach((n) => current!.add(n));
      for (let n = start; n < start + count; n++) current.add(n);
    }
  }
  return out;
}

export async function changedSince(ref: string, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<ChangedSince> {
  const git = new Git(cwd, env);
  const top = await git.tryRun('rev-parse', '--show-toplevel');
  if (top.code !== 0) throw usageError(`--changed-since needs a git repository: ${cwd} is not in one`);
  const root = top.stdout.trim();
  const repo = git.in(root);
  const resolved = await repo.tryRun('rev-parse', '--verify', '--quiet', `${ref}^{commit}`);
  if (resolved.code !== 0)
    throw usageError(`--changed-since: unknown git revision "${ref}"`, 'In CI, fetch it first (e.g. actions/checkout with fetch-depth: 0).');
  const mergeBase = await repo.tryRun('merge-base', resolved.stdout.trim(), 'HEAD');
  const base = mergeBase.code === 0 ? mergeBase.stdout.trim() : resolved.stdout.trim();
  const diff = await repo.run(
    '-c', 'core.quotePath=false', 'diff', '--unified=0', '--no-color', '--no-ext-diff', '--find-renames', base, '--', '.',
  );
  const byRel = parseUnifiedZero(diff);
  const untracked = await repo.run('ls-files', '-z', '--others', '--exclude-standard');
  for (const rel of untracked.split('\0').filter(Boolean)) byRel.set(rel, 'all');
  const files = new Map<string, Set<number> | 'all'>();
  for (const [rel, lines] of byRel) files.set(path.join(root, rel), lines);
  return { files, base };
}

function realPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/** Findings only in changed files, and with `lines`, only those whose range touches a changed line. */
export function changedScope(changes: ChangedSince, lines: boolean): Scope {
  const real = new Map<string, string>();
  const lookup = (file: string) => {
    let r = real.get(file);
    if (r === undefined) real.set(file, (r = realPath(file)));
    return changes.files.get(r);
  };
  return {
    file: (f: ScopedFile) => lookup(f.path) !== undefined,
    findings: lines
      ? (found: Finding[], ws) =>
          found.filter((f) => {
            const changed = lookup(f.file);
            if (changed === 'all') return true;
            if (!changed) return false;
            const text = ws.file(f.file)?.text ?? '';
            const first = positionOf(text, f.start).line;
            const last = positionOf(text, f.end).line;
            for (let n = first; n <= last; n++) if (changed.has(n)) return true;
            return false;
          })
      : undefined,
  };
}
