/**
 * `otpfix pr`: one branch per group of verified changes, made in temporary worktrees started from
 * HEAD, so the user's branch, index and work tree are never touched. Detection, fixing and
 * verification are the library's (prepare / fix / runFixSession); this file only decides what goes
 * on which branch and drives git.
 */
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { diffLines } from 'diff';
import { changedFiles, fix, prepare, writeChanges, type Prepared } from '../../api.js';
import { findConfigFile, loadConfig, activeRules, type ActiveRule, type Config } from '../../core/config.js';
import { detectAll, type Change, type SessionChange, type SessionHooks, type SessionResult } from '../../core/engine.js';
import { errorMessage, ioError, usageError } from '../../core/errors.js';
import { positionOf } from '../../core/position.js';
import type { NonProductionMode } from '../../core/roles.js';
import { transforms } from '../../transforms/index.js';
import { printable } from '../format.js';
import { branchExists, exec, isValidBranchName, openRepo, which, type Git, type RepoState, Scratch } from './git.js';
import { commitMessage, prBody, prTitle, type BranchReport, type ChangeItem, type Grouping, type LeftItem, type RuleInfo } from './pr-text.js';

export const GROUPINGS: Grouping[] = ['rule', 'file', 'all'];
export const DEFAULT_BRANCH_PREFIX = 'otpfix/';

export interface PrOptions {
  /** Paths to analyse, relative to `cwd` (default: the config's include list, or `.`). */
  paths: string[];
  rules?: string[];
  /** `--non-production`: how findings in tests, examples, benchmarks and docs are treated. */
  nonProduction?: NonProductionMode;
  configFile?: string;
  group: Grouping;
  branchPrefix: string;
  /** Absolute directory for one `<branch>.md` per branch. */
  bodyDir?: string;
  allowDirty?: boolean;
  /** Replace branches that already exist. */
  force?: boolean;
  /** Push the branches to this remote. */
  push?: string;
  /** Run `gh pr create` for each pushed branch. */
  openPr?: boolean;
  /** The pull requests' base branch (default: the current branch). */
  base?: string;
  /** Run git's commit hooks (default true). */
  verify?: boolean;
  env: NodeJS.ProcessEnv;
  scratch: Scratch;
}

export interface PrLog {
  info(line: string): void;
  warn(line: string): void;
  /** A branch was made: its pull request title and body are ready. */
  branch(outcome: BranchOutcome): void;
}

export interface BranchOutcome {
  branch: string;
  commit: string;
  title: string;
  body: string;
  bodyFile?: string;
  report: BranchReport;
  pushed?: boolean;
  prUrl?: string;
}

export interface RepoOutcome {
  root: string;
  branches: BranchOutcome[];
  /** Branches that could not be made, pushed or proposed, each with its reason. */
  failures: string[];
}

interface Group {
  branch: string;
  /** Ids of the rules run for this branch. */
  rules: string[];
  /** Only changes whose finding is in one of these files (repo-relative), when set. */
  files?: Set<string>;
}

const posix = (p: string) => p.split(path.sep).join('/');

/**
 * Make the branches for the repository containing `cwd`. Repository-level problems (not a repository,
 * dirty tree, existing branches) throw; a branch that cannot be made is recorded and the others go on.
 */
export async function createPrBranches(cwd: string, options: PrOptions, log: PrLog): Promise<RepoOutcome> {
  const repo = await openRepo(cwd, options.env);
  const short = repo.head.slice(0, 12);
  if (repo.dirty.length) {
    if (!options.allowDirty)
      throw usageError(
        `${repo.root} has uncommitted changes (${repo.dirty.length} file${repo.dirty.length === 1 ? '' : 's'})`,
        'Commit or stash them first, or pass --allow-dirty: the branches are then made from HEAD as committed, without those changes.',
      );
    log.warn(`--allow-dirty: ${repo.dirty.length} uncommitted change(s) are ignored; the branches are made from HEAD (${short}) as committed.`);
  }
  if (!repo.branch) log.info(`HEAD is detached at ${short}; the branches start from that commit.`);
  const base = options.base ?? repo.branch;
  if (options.openPr && !base) throw usageError('HEAD is detached, so there is no branch to open pull requests against', 'Pass --base <branch>.');
  if (options.openPr && !options.push) throw usageError('--open-pr needs the branches on a remote', 'Pass --push <remote> as well.');
  // Checked before anything is pushed: a run asked to open pull requests that cannot must not pass.
  if (options.openPr && !which('gh', options.env))
    throw ioError(
      '--open-pr needs gh (the GitHub CLI), which is not on PATH; nothing was made or pushed',
      'Install it from https://cli.github.com/ and run `gh auth login`, or leave out --open-pr and open the pull requests by hand.',
    );

  const config: Config = loadConfig(options.configFile ? path.resolve(cwd, options.configFile) : findConfigFile(cwd));
  const selected = activeRules(transforms, config, { only: options.rules, nonProduction: options.nonProduction }).map((r) => r.transform.id);
  const relCwd = path.relative(repo.root, realpathSync(cwd));
  const paths = options.paths.map((p) => path.relative(cwd, path.resolve(cwd, p)) || '.');
  for (const p of paths)
    if (path.relative(repo.root, path.resolve(realpathSync(cwd), p)).startsWith('..')) throw usageError(`${p} is outside the repository ${repo.root}`);

  const temp = options.scratch.makeTempDir('otpfix-pr-');
  const ctx: Ctx = { repo, options, config, relCwd, paths, temp, log, worktrees: 0 };
  try {
    const groups = await plan(ctx, selected);
    if (!groups.length) return { root: repo.root, branches: [], failures: [] };
    await checkBranchNames(ctx, groups);

    const made: Array<{ group: Group; commit: string; report: BranchReport }> = [];
    const failures: string[] = [];
    for (const group of groups) {
      try {
        const built = await buildBranch(ctx, group);
        if (built) made.push({ group, ...built });
        else log.info(`${group.branch}: nothing to change after all; no branch made.`);
      } catch (err) {
        failures.push(`${group.branch}: ${errorMessage(err)}`);
      }
    }

    const branches: BranchOutcome[] = [];
    for (const m of made) {
      m.report.baseBranch = base;
      m.report.overlaps = m.report.files
        .map((f) => ({ file: f.file, branches: made.filter((o) => o !== m && o.report.files.some((g) => g.file === f.file)).map((o) => o.group.branch) }))
        .filter((o) => o.branches.length);
      const outcome: BranchOutcome = { branch: m.group.branch, commit: m.commit, title: prTitle(m.report), body: prBody(m.report), report: m.report };
      if (options.bodyDir) {
        mkdirSync(options.bodyDir, { recursive: true });
        outcome.bodyFile = path.join(options.bodyDir, `${m.group.branch.replace(/[^A-Za-z0-9._-]+/g, '-')}.md`);
        writeFileSync(outcome.bodyFile, `${outcome.body}`);
      }
      branches.push(outcome);
      log.branch(outcome);
    }

    if (options.push) await pushBranches(ctx, branches, failures);
    if (options.openPr) await openPullRequests(ctx, branches.filter((b) => b.pushed), base!, failures);
    return { root: repo.root, branches, failures };
  } finally {
    options.scratch.removeTempDir(temp);
  }
}

interface Ctx {
  repo: RepoState;
  options: PrOptions;
  config: Config;
  relCwd: string;
  paths: string[];
  temp: string;
  log: PrLog;
  worktrees: number;
}

/** Run `fn` in a fresh detached worktree at HEAD, removed afterwards whatever happens. */
async function inWorktree<T>(ctx: Ctx, fn: (wt: Git, cwd: string) => Promise<T>): Promise<T> {
  const dir = path.join(ctx.temp, `wt-${ctx.worktrees++}`);
  const wt = await ctx.options.scratch.addWorktree(ctx.repo.git, dir, ctx.repo.head);
  try {
    return await fn(wt, path.join(dir, ctx.relCwd));
  } finally {
    await ctx.options.scratch.removeWorktree(dir);
  }
}

async function load(ctx: Ctx, cwd: string, rules: string[]): Promise<Prepared> {
  try {
    return await prepare({ paths: ctx.paths, cwd, config: ctx.config, rules, nonProduction: ctx.options.nonProduction });
  } catch (err) {
    // A path that exists in the work tree but not in HEAD would otherwise read as a typo.
    if (err instanceof Error && /^path does not exist/.test(err.message))
      throw usageError(`${err.message} (in HEAD)`, 'otpfix pr works on the last commit: commit the files first.');
    throw err;
  }
}

/** The group's session: its rules, and only changes whose finding is in its files. */
async function runGroup(ctx: Ctx, wtRoot: string, cwd: string, group: Group): Promise<{ prepared: Prepared; session: SessionResult }> {
  const prepared = await load(ctx, cwd, group.rules);
  const hooks: SessionHooks = {
    decide: (change: Change) => (!group.files || group.files.has(posix(path.relative(wtRoot, change.finding.file))) ? 'yes' : 'no'),
  };
  return { prepared, session: await fix(prepared, hooks) };
}

/** One full run on HEAD decides which branches to make. */
async function plan(ctx: Ctx, selected: string[]): Promise<Group[]> {
  return inWorktree(ctx, async (wt, cwd) => {
    const prepared = await load(ctx, cwd, selected);
    for (const s of prepared.statuses) if (s.status !== 'ok') ctx.log.warn(`${printable(s.relPath)}: ${s.reason}`);
    const session = await fix(prepared, { decide: () => 'yes' });
    for (const p of session.problems) ctx.log.warn(`${printable(posix(path.relative(wt.dir, p.file)))}: ${p.ruleId}: ${p.message}`);
    const prefix = ctx.options.branchPrefix;
    const rulesOf = (changes: SessionChange[]) => selected.filter((id) => changes.some((c) => c.rule.transform.id === id));
    const applied = session.applied;
    if (!applied.length) return [];
    switch (ctx.options.group) {
      case 'rule':
        return rulesOf(applied).map((id) => ({ branch: `${prefix}${id}`, rules: [id] }));
      case 'all':
        return [{ branch: `${prefix}all`, rules: rulesOf(applied) }];
      case 'file': {
        const byFile = new Map<string, SessionChange[]>();
        for (const c of applied) {
          const file = posix(path.relative(wt.dir, c.finding.file));
          byFile.set(file, [...(byFile.get(file) ?? []), c]);
        }
        const taken = new Set<string>();
        return [...byFile.keys()].sort().map((file) => {
          let branch = `${prefix}${refSafe(file)}`;
          for (let n = 2; taken.has(branch); n++) branch = `${prefix}${refSafe(file)}-${n}`;
          taken.add(branch);
          return { branch, rules: rulesOf(byFile.get(file)!), files: new Set([file]) };
        });
      }
    }
  });
}

/** A path as one branch-name component: `lib/shop/cart.ex` → `lib-shop-cart.ex`. */
export function refSafe(file: string): string {
  const s = file
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/-{2,}/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '')
    .replace(/\.lock$/, '-lock');
  return s || 'file';
}

async function checkBranchNames(ctx: Ctx, groups: Group[]): Promise<void> {
  const git = ctx.repo.git;
  for (const g of groups)
    if (!(await isValidBranchName(git, g.branch)))
      throw usageError(`"${g.branch}" is not a valid branch name`, 'Check --branch-prefix (git check-ref-format --branch).');
  const current = groups.find((g) => g.branch === ctx.repo.branch);
  if (current) throw usageError(`${current.branch} is your current branch; otpfix pr will not rewrite the branch you have checked out`, 'Switch to another branch first.');
  const existing: string[] = [];
  for (const g of groups) if (await branchExists(git, g.branch)) existing.push(g.branch);
  if (existing.length && !ctx.options.force)
    throw usageError(
      `branch${existing.length === 1 ? '' : 'es'} already exist${existing.length === 1 ? 's' : ''}: ${existing.join(', ')}`,
      'Delete them (git branch -D …), choose another --branch-prefix, or pass --force to replace them.',
    );
}

/** Make one branch: run the group's session in a worktree, write, check a second run is a no-op, commit. */
async function buildBranch(ctx: Ctx, group: Group): Promise<{ commit: string; report: BranchReport } | undefined> {
  return inWorktree(ctx, async (wt, cwd) => {
    const { prepared, session } = await runGroup(ctx, wt.dir, cwd, group);
    if (!session.applied.length) return undefined;
    const report = reportFor(ctx, wt.dir, group, prepared.rules, session);
    const outcomes = await writeChanges(session);
    const unwritten = outcomes.find((o) => !o.written);
    if (unwritten) throw ioError(`cannot write ${unwritten.relPath} in the temporary worktree: ${unwritten.error}`);

    const again = changedFiles((await runGroup(ctx, wt.dir, cwd, group)).session);
    if (again.length)
      throw new Error(`a second otpfix run would change ${again.map((f) => f.relPath).join(', ')} again; not committed (please report this)`);

    const messageFile = `${wt.dir}.commit-message.txt`;
    writeFileSync(messageFile, commitMessage(report));
    await wt.run('add', '--', ...outcomes.map((o) => posix(path.relative(wt.dir, o.path))));
    await wt.run('commit', '--quiet', '-F', messageFile, ...(ctx.options.verify === false ? ['--no-verify'] : []));
    const commit = await wt.run('rev-parse', 'HEAD');
    // The branch appears only now, with its commit (git refuses -f on a branch checked out anywhere).
    await ctx.repo.git.run('branch', ...(ctx.options.force ? ['--force'] : []), group.branch, commit);
    return { commit, report };
  });
}

function ruleInfo(rule: ActiveRule): RuleInfo {
  const t = rule.transform;
  return {
    id: t.id,
    title: t.title,
    severity: rule.severity,
    fixSafety: t.fixSafety,
    seedRef: t.seedRef,
    explanation: t.explanation,
    risks: t.risks,
    options: Object.entries(t.options).map(([key, spec]) => ({
      key,
      value: rule.options[key],
      isDefault: JSON.stringify(rule.options[key]) === JSON.stringify(spec.default),
    })),
  };
}

function reportFor(ctx: Ctx, root: string, group: Group, rules: ActiveRule[], session: SessionResult): BranchReport {
  const rel = (p: string) => posix(path.relative(root, p));
  const applied = session.applied;
  const changes: ChangeItem[] = applied.map((change, i) => {
    const own = change.files.find((f) => f.path === change.finding.file) ?? change.files[0];
    let line = positionOf(own.before, change.finding.start).line;
    // Later changes to the same file can move it: follow it to the branch's final text.
    for (const later of applied.slice(i + 1))
      for (const f of later.files) if (f.path === own.path) line = followLine(line, f.before, f.after);
    return {
      ruleId: change.rule.transform.id,
      file: rel(own.path),
      line,
      message: change.finding.message,
      alsoFiles: change.files.filter((f) => f !== own).map((f) => rel(f.path)),
    };
  });
  const files = changedFiles(session).map((f) => {
    let added = 0;
    let removed = 0;
    for (const part of diffLines(f.before, f.after)) {
      if (part.added) added += part.count ?? 0;
      if (part.removed) removed += part.count ?? 0;
    }
    return { file: rel(f.path), added, removed };
  });

  // What of this branch's scope is still there, and why.
  const key = (ruleId: string, file: string, k: string) => `${ruleId}\u0000${file}\u0000${k}`;
  const why = new Map<string, string>();
  for (const f of session.failed) why.set(key(f.finding.ruleId, f.finding.file, f.finding.key), `dropped by verification: ${f.reason}`);
  for (const f of session.detectOnly) if (!why.has(key(f.ruleId, f.file, f.key))) why.set(key(f.ruleId, f.file, f.key), f.message);
  const left: LeftItem[] = detectAll(session.workspace, rules)
    .findings.filter((f) => !group.files || group.files.has(rel(f.file)))
    .map((f) => ({
      ruleId: f.ruleId,
      file: rel(f.file),
      line: positionOf(session.workspace.file(f.file)?.text ?? '', f.start).line,
      reason: why.get(key(f.ruleId, f.file, f.key)) ?? (f.fixable ? `not rewritten: ${f.message}` : `detect only: ${f.message}`),
    }));

  return {
    branch: group.branch,
    grouping: ctx.options.group,
    baseCommit: ctx.repo.head,
    rules: rules.filter((r) => applied.some((c) => c.rule === r)).map(ruleInfo),
    changes,
    files,
    left,
    overlaps: [],
  };
}

/** Where 1-based `line` of `before` is in `after` (a line inside a replaced block goes to its start). */
export function followLine(line: number, before: string, after: string): number {
  let oldLine = 1;
  let newLine = 1;
  for (const part of diffLines(before, after)) {
    const n = part.count ?? 0;
    if (part.added) newLine += n;
    else if (part.removed) {
      if (line < oldLine + n) return line < oldLine ? line : newLine;
      oldLine += n;
    } else {
      if (line < oldLine + n) return newLine + (line - oldLine);
      oldLine += n;
      newLine += n;
    }
  }
  return newLine + (line - oldLine);
}

async function pushBranches(ctx: Ctx, branches: BranchOutcome[], failures: string[]): Promise<void> {
  const remote = ctx.options.push!;
  for (const b of branches) {
    const args = ['push', '--quiet', ...(ctx.options.force ? ['--force'] : []), remote, `refs/heads/${b.branch}:refs/heads/${b.branch}`];
    const result = await ctx.repo.git.tryRun(...args);
    if (result.code === 0) {
      b.pushed = true;
      ctx.log.info(`pushed ${b.branch} to ${remote}`);
    } else failures.push(`${b.branch}: push to ${remote} failed: ${firstLines(result.stderr || result.stdout)}`);
  }
}

/** `gh pr create` per pushed branch; a missing gh is said, not a failure. */
async function openPullRequests(ctx: Ctx, branches: BranchOutcome[], base: string, failures: string[]): Promise<void> {
  const gh = which('gh', ctx.options.env);
  if (!gh) {
    // Checked at the start; gh went away during the run.
    for (const b of branches) failures.push(`${b.branch}: pushed, but no pull request opened: gh is no longer on PATH`);
    return;
  }
  for (const b of branches) {
    const bodyFile = b.bodyFile ?? path.join(ctx.temp, `${b.branch.replace(/[^A-Za-z0-9._-]+/g, '-')}.md`);
    if (!b.bodyFile) writeFileSync(bodyFile, b.body);
    const result = await exec(gh, ['pr', 'create', '--title', b.title, '--body-file', bodyFile, '--base', base, '--head', b.branch], ctx.repo.root, ctx.options.env);
    if (result.code === 0) {
      b.prUrl = result.stdout.trim().split('\n').pop();
      ctx.log.info(`opened pull request for ${b.branch}: ${b.prUrl}`);
    } else failures.push(`${b.branch}: gh pr create failed: ${firstLines(result.stderr || result.stdout)}`);
  }
}

function firstLines(text: string): string {
  return text.trim().split('\n').filter(Boolean).slice(0, 3).join(' / ') || 'no message';
}
