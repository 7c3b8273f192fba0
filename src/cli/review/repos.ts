/**
 * `otpfix pr --repos FILE`: the same branches over many repositories (local paths or clone URLs),
 * one outcome per repository; one repository failing never stops the others.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
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

/** What a campaign keeps of a branch. */
export type BranchSummary = Pick<BranchOutcome, 'branch' | 'commit' | 'pushed' | 'prUrl'>;

export interface RepoStatus {
  entry: RepoEntry;
  status: 'ok' | 'no-changes' | 'failed';
  branches: BranchSummary[];
  /** Why it failed (repository-level error, or the branches/pushes/pull requests that failed). */
  reason?: string;
  /** A clone whose branches were not (all) pushed is kept here. */
  keptClone?: string;
  /** Done in an earlier run of the campaign (from --state); not redone. */
  earlier?: boolean;
}

export interface ReposOptions extends PrOptions {
  /** Where to clone URLs (default: a new temporary directory, removed when left empty). */
  cloneDir?: string;
  /** How many repositories are worked on at once (default 1). */
  concurrency?: number;
  /** The campaign's state: repositories done in an earlier run are not redone. */
  state?: CampaignState;
}

/** What `--state FILE` keeps between runs of one campaign, written atomically after each step. */
export interface StateEntry {
  /** `started`: an earlier run was stopped while working on it (its branches may exist). */
  status: RepoStatus['status'] | 'started';
  branches: BranchSummary[];
  reason?: string;
  keptClone?: string;
  at: string;
}

export class CampaignState {
  readonly repos: Record<string, StateEntry>;

  constructor(
    readonly file: string,
    repos: Record<string, StateEntry> = {},
  ) {
    this.repos = repos;
  }

  static load(file: string): CampaignState {
    if (!existsSync(file)) return new CampaignState(file);
    let data: { version?: number; repos?: Record<string, StateEntry> };
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw usageError(`cannot read the campaign state ${file}: ${errorMessage(err)}`, 'Delete it to start the campaign afresh.');
    }
    if (data?.version !== 1 || typeof data.repos !== 'object' || !data.repos)
      throw usageError(`${file} is not an otpfix campaign state`, 'Delete it to start the campaign afresh.');
    return new CampaignState(file, data.repos);
  }

  /** Done (ok or nothing to change) in an earlier run: skipped, its result reported again. */
  done(label: string): StateEntry | undefined {
    const e = this.repos[label];
    return e && (e.status === 'ok' || e.status === 'no-changes') ? e : undefined;
  }

  record(label: string, entry: Omit<StateEntry, 'at'>): void {
    this.repos[label] = { ...entry, at: new Date().toISOString() };
    // Synchronous and atomic: a run killed at any moment leaves the previous or the new state, whole.
    writeFileAtomic.sync(this.file, `${JSON.stringify({ version: 1, repos: this.repos }, null, 2)}\n`);
  }
}

/** Repository entries of shard `index` of `count` (1-based): by their position in the list. */
export function shardEntries<T>(entries: T[], shard?: { index: number; count: number }): T[] {
  return shard ? entries.filter((_, i) => i % shard.count === shard.index - 1) : entries;
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
  // One name per repository (its clone directory and its --body-dir subdirectory), fixed before any work starts.
  const named = entries.map((entry) => unique(path.basename(entry.url ? entry.url.replace(/\/$/, '').replace(/\.git$/, '') : entry.dir!)));
  const statuses: RepoStatus[] = new Array(entries.length);

  const runOne = async (i: number): Promise<RepoStatus> => {
    const entry = entries[i];
    const earlier = options.state?.done(entry.label);
    if (earlier)
      return {
        entry,
        status: earlier.status as RepoStatus['status'],
        branches: earlier.branches,
        keptClone: earlier.keptClone,
        earlier: true,
      };
    // Branches made by an earlier run of this campaign (stopped midway, or failed after making
    // branches, e.g. at the push) are ours to replace; anyone else's are still refused.
    const before = options.state?.repos[entry.label];
    const resumed = before?.status === 'started' || (before?.status === 'failed' && before.branches.length > 0);
    options.state?.record(entry.label, { status: 'started', branches: [] });
    const name = named[i];
    let dir = entry.dir;
    let cloned = false;
    try {
      if (entry.url) {
        const root = options.cloneDir ?? (tempClones ??= mkdtempSync(path.join(tmpdir(), 'otpfix-repos-')));
        mkdirSync(root, { recursive: true });
        dir = path.join(root, name);
        if (existsSync(dir)) {
          if (!resumed) throw usageError(`${dir} already exists; not cloning over it`);
          rmSync(dir, { recursive: true, force: true });
        }
        await clone(entry.url, dir, options.env);
        cloned = true;
      } else if (!existsSync(dir!) || !statSync(dir!).isDirectory()) throw usageError(`no such directory: ${dir}`);
      const outcome = await createPrBranches(
        dir!,
        { ...options, force: options.force || resumed, bodyDir: options.bodyDir && path.join(options.bodyDir, name) },
        logFor(i),
      );
      const branches = outcome.branches;
      const keep = cloned && branches.length > 0 && !branches.every((b) => b.pushed);
      if (cloned && !keep) rmSync(dir!, { recursive: true, force: true });
      return {
        entry,
        status: outcome.failures.length ? 'failed' : branches.length ? 'ok' : 'no-changes',
        branches,
        reason: outcome.failures.length ? outcome.failures.join('; ') : undefined,
        keptClone: keep ? dir : undefined,
      };
    } catch (err) {
      if (cloned) rmSync(dir!, { recursive: true, force: true });
      return { entry, status: 'failed', branches: [], reason: err instanceof OtpfixError ? err.message : `internal error: ${errorMessage(err)}` };
    }
  };

  // A bounded pool: each worker takes the next repository in list order; one failure never stops the rest.
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < entries.length; i = next++) {
      const result = await runOne(i);
      statuses[i] = result;
      if (!result.earlier)
        options.state?.record(entries[i].label, {
          status: result.status,
          branches: result.branches.map((b) => ({ branch: b.branch, commit: b.commit, pushed: b.pushed, prUrl: b.prUrl })),
          reason: result.reason,
          keptClone: result.keptClone,
        });
      onStatus(i, result);
    }
  };
  const width = Math.max(1, Math.min(options.concurrency ?? 1, entries.length));
  await Promise.all(Array.from({ length: width }, worker));
  if (tempClones && !readdirSync(tempClones).length) rmSync(tempClones, { recursive: true, force: true });
  return statuses;
}
