/**
 * `otpfix pr --repos FILE`: the same branches over many repositories (local paths or clone URLs),
 * one outcome per repository; one repository failing never stops the others.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { errorMessage, OtpfixError, usageError } from '../../core/errors.js';
import { clone, isCloneUrl } from './git.js';
import { createPrBranches, refSafe, type BranchOutcome, type PrLog, type PrOptions } from './pr.js';

export interface RepoEntry {
  /** As written in the list. */
  label: string;
  url?: string;
  /** Absolute; relative entries are relative to the list's directory. */
  dir?: string;
}

export function readRepoList(file: string): RepoEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`cannot read the repository list ${file}: ${errorMessage(err)}`);
  }
  const entries: RepoEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    entries.push(isCloneUrl(line) ? { label: line, url: line } : { label: line, dir: path.resolve(path.dirname(file), line) });
  }
  if (!entries.length) throw usageError(`${file} lists no repository`, 'One local path or clone URL per line; # starts a comment.');
  return entries;
}

export interface RepoStatus {
  entry: RepoEntry;
  status: 'ok' | 'no-changes' | 'failed';
  branches: BranchOutcome[];
  /** Why it failed (repository-level error, or the branches/pushes/pull requests that failed). */
  reason?: string;
  /** A clone whose branches were not (all) pushed is kept here. */
  keptClone?: string;
}

export interface ReposOptions extends PrOptions {
  /** Where to clone URLs (default: a new temporary directory, removed when left empty). */
  cloneDir?: string;
}

export async function createPrBranchesInRepos(
  entries: RepoEntry[],
  options: ReposOptions,
  logFor: (index: number) => PrLog,
  onStatus: (index: number, status: RepoStatus) => void,
): Promise<RepoStatus[]> {
  let tempClones: string | undefined;
  const names = new Set<string>();
  const unique = (base: string) => {
    let name = refSafe(base);
    for (let n = 2; names.has(name); n++) name = `${refSafe(base)}-${n}`;
    names.add(name);
    return name;
  };
  const statuses: RepoStatus[] = [];
  for (const [i, entry] of entries.entries()) {
    // One name per repository: its clone directory and its --body-dir subdirectory.
    const name = unique(path.basename(entry.url ? entry.url.replace(/\/$/, '').replace(/\.git$/, '') : entry.dir!));
    let dir = entry.dir;
    let cloned = false;
    let result: RepoStatus;
    try {
      if (entry.url) {
        const root = options.cloneDir ?? (tempClones ??= mkdtempSync(path.join(tmpdir(), 'otpfix-repos-')));
        mkdirSync(root, { recursive: true });
        dir = path.join(root, name);
        if (existsSync(dir)) throw usageError(`${dir} already exists; not cloning over it`);
        await clone(entry.url, dir, options.env);
        cloned = true;
      } else if (!existsSync(dir!) || !statSync(dir!).isDirectory()) throw usageError(`no such directory: ${dir}`);
      const outcome = await createPrBranches(dir!, { ...options, bodyDir: options.bodyDir && path.join(options.bodyDir, name) }, logFor(i));
      const branches = outcome.branches;
      const keep = cloned && branches.length > 0 && !branches.every((b) => b.pushed);
      if (cloned && !keep) rmSync(dir!, { recursive: true, force: true });
      result = {
        entry,
        status: outcome.failures.length ? 'failed' : branches.length ? 'ok' : 'no-changes',
        branches,
        reason: outcome.failures.length ? outcome.failures.join('; ') : undefined,
        keptClone: keep ? dir : undefined,
      };
    } catch (err) {
      if (cloned) rmSync(dir!, { recursive: true, force: true });
      result = { entry, status: 'failed', branches: [], reason: err instanceof OtpfixError ? err.message : `internal error: ${errorMessage(err)}` };
    }
    statuses.push(result);
    onStatus(i, result);
  }
  if (tempClones && !readdirSync(tempClones).length) rmSync(tempClones, { recursive: true, force: true });
  return statuses;
}
