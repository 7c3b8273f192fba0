import path from 'node:path';
import { unknownRuleHint, usageError } from '../../core/errors.js';
import { colorsFor, type Colors, type Io } from '../output.js';
import { Scratch } from '../review/git.js';
import { createPrBranches, GROUPINGS, type BranchOutcome, type PrLog, type PrOptions, type RepoOutcome } from '../review/pr.js';
import { CampaignState, createPrBranchesInRepos, readRepoList, shardEntries, type BranchSummary, type RepoStatus } from '../review/repos.js';
import { shardOption } from '../scope-options.js';
import type { Grouping } from '../review/pr-text.js';
import { transformById, transforms } from '../../transforms/index.js';

export interface PrCommandOptions extends Omit<PrOptions, 'scratch' | 'group'> {
  cwd: string;
  group: string;
  /** A file listing repositories (local paths or clone URLs), one per line. */
  repos?: string;
  /** Where to clone URLs from --repos (default: a new temporary directory). */
  cloneDir?: string;
  /** With --repos: how many repositories at once. */
  concurrency?: string;
  /** With --repos: the campaign's state file (resume where a stopped run left off). */
  state?: string;
  /** With --repos: only repositories of shard i/n (by position in the list). */
  shard?: string;
  /** With --repos: the final table as text or JSON. */
  format?: string;
}

/**
 * Exit codes: 0 done (branches made, or nothing to change); 1 when a branch, push, pull request or
 * (with --repos) a repository failed; 2 usage or config error; 3 git missing or another I/O error.
 */
export async function prCommand(options: PrCommandOptions, io: Io): Promise<number> {
  if (!GROUPINGS.includes(options.group as Grouping)) throw usageError(`--group must be one of ${GROUPINGS.join(', ')}`);
  if (!options.branchPrefix.trim()) throw usageError('--branch-prefix must not be empty');
  for (const id of options.rules ?? [])
    if (!transformById(id)) throw usageError(`unknown rule "${id}"`, unknownRuleHint(id, transforms.map((t) => t.id)));
  if (!options.repos)
    for (const [flag, value] of [['--concurrency', options.concurrency], ['--state', options.state], ['--shard', options.shard]] as const)
      if (value !== undefined) throw usageError(`${flag} works with --repos <file> (a campaign over many repositories)`);
  if (!options.repos && options.format === 'json') throw usageError('--format json works with --repos <file>');
  const scratch = new Scratch();
  const prOptions: PrOptions = {
    ...options,
    group: options.group as Grouping,
    bodyDir: options.bodyDir ? path.resolve(options.cwd, options.bodyDir) : undefined,
    configFile: options.configFile ? path.resolve(options.cwd, options.configFile) : undefined,
    scratch,
  };
  // An interrupted run removes its temporary worktrees; the user's checkout was never touched.
  const onSignal = (signal: NodeJS.Signals) => {
    scratch.cleanupSync();
    io.err(`interrupted (${signal}); temporary worktrees removed. Branches already made are kept.`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return options.repos ? await many(options, prOptions, io) : await single(options.cwd, prOptions, io);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    scratch.cleanupSync();
  }
}

function printer(io: Io, c: Colors, prefix = ''): PrLog {
  return {
    info: (line) => io.err(`${prefix}${line}`),
    warn: (line) => io.err(`${prefix}${c.yellow('warning')} ${line}`),
    branch: (b) => io.out(branchText(b, c)),
  };
}

function branchText(b: BranchOutcome, c: Colors): string {
  const n = b.report.changes.length;
  const files = b.report.files.length;
  return [
    c.bold(`── branch ${b.branch} (commit ${b.commit.slice(0, 12)}): ${n} change${n === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}`),
    `title: ${b.title}`,
    b.bodyFile ? `body (also in ${b.bodyFile}):` : 'body:',
    '',
    b.body,
  ].join('\n');
}

async function single(cwd: string, options: PrOptions, io: Io): Promise<number> {
  const c = colorsFor(io.stderr);
  const outcome = await createPrBranches(cwd, options, printer(io, colorsFor(io.stdout)));
  io.err(statusLine(outcome, c));
  for (const f of outcome.failures) io.err(`${c.red('failed')} ${f}`);
  if (outcome.branches.length && !options.push) io.err(c.dim(`Push them with --push <remote> (and --open-pr to open pull requests with gh).`));
  return outcome.failures.length ? 1 : 0;
}

function statusLine(outcome: RepoOutcome, c: Colors): string {
  const n = outcome.branches.length;
  if (!n) return outcome.failures.length ? c.red('no branch made.') : c.green('no changes: nothing otpfix can rewrite here.');
  const pushed = outcome.branches.filter((b) => b.pushed).length;
  const prs = outcome.branches.filter((b) => b.prUrl).length;
  return c.green(
    `made ${n} branch${n === 1 ? '' : 'es'}: ${outcome.branches.map((b) => b.branch).join(', ')}` +
      (pushed ? `; pushed ${pushed}` : '') +
      (prs ? `; opened ${prs} pull request${prs === 1 ? '' : 's'}` : '') +
      '.',
  );
}

async function many(command: PrCommandOptions, options: PrOptions, io: Io): Promise<number> {
  const concurrency = command.concurrency === undefined ? 1 : Number(command.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw usageError(`--concurrency must be a whole number from 1 to 64 (got "${command.concurrency}")`);
  const shard = shardOption(command.shard);
  const listed = readRepoList(path.resolve(command.cwd, command.repos!));
  const entries = shardEntries(listed, shard);
  const state = command.state ? CampaignState.load(path.resolve(command.cwd, command.state)) : undefined;
  const json = command.format === 'json';
  // With --format json, stdout carries only the final JSON; progress and branch texts go to stderr.
  const say = json ? io.err : io.out;
  const c = colorsFor(json ? io.stderr : io.stdout);
  if (shard) io.err(`shard ${shard.index}/${shard.count}: ${entries.length} of ${listed.length} repositories`);
  const width = String(entries.length).length;
  const tag = (i: number) => `[${String(i + 1).padStart(width)}/${entries.length}] `;
  const names = (branches: BranchSummary[]) => branches.map((b) => b.branch).join(', ');
  const sayIo: Io = { ...io, out: say };
  const statuses = await createPrBranchesInRepos(
    entries,
    { ...options, concurrency, state, cloneDir: command.cloneDir ? path.resolve(command.cwd, command.cloneDir) : undefined },
    (i) => printer(sayIo, c, tag(i)),
    (i, s) => {
      const n = s.branches.length;
      const kept = s.keptClone ? `; not pushed, so the clone is kept: ${s.keptClone}` : '';
      const earlier = s.earlier ? c.dim(' (done in an earlier run; not redone)') : '';
      const line =
        s.status === 'ok'
          ? `${c.green('ok        ')} ${s.entry.label}: ${n} branch${n === 1 ? '' : 'es'} (${names(s.branches)})${kept}${earlier}`
          : s.status === 'no-changes'
            ? `${c.dim('no changes')} ${s.entry.label}${earlier}`
            : `${c.red('failed    ')} ${s.entry.label}: ${s.reason}${n ? ` (made ${n}: ${names(s.branches)})` : ''}${kept}`;
      say(`${tag(i)}${line}`);
    },
  );
  const count = (status: RepoStatus['status']) => statuses.filter((s) => s.status === status).length;
  const made = statuses.reduce((sum, s) => sum + s.branches.length, 0);
  const total = entries.length;
  const summary = {
    repositories: total,
    ok: count('ok'),
    noChanges: count('no-changes'),
    failed: count('failed'),
    earlier: statuses.filter((s) => s.earlier).length,
    branches: made,
    pullRequests: statuses.reduce((sum, s) => sum + s.branches.filter((b) => b.prUrl).length, 0),
  };
  if (json) io.out(JSON.stringify({ version: 1, repositories: statuses.map(campaignRow), summary }, null, 2));
  else {
    if (total) io.out(campaignTable(statuses));
    io.out(
      c.bold(
        `${total} repositor${total === 1 ? 'y' : 'ies'}: ${summary.ok} ok, ${summary.noChanges} without changes, ${summary.failed} failed` +
          `${summary.earlier ? ` (${summary.earlier} done in an earlier run)` : ''}; ${made} branch${made === 1 ? '' : 'es'}, ` +
          `${summary.pullRequests} pull request${summary.pullRequests === 1 ? '' : 's'}.`,
      ),
    );
  }
  return summary.failed ? 1 : 0;
}

/** One row of the final table (also the JSON shape). */
export function campaignRow(s: RepoStatus) {
  return {
    repository: s.entry.label,
    status: s.status,
    branches: s.branches.map((b) => b.branch),
    pullRequests: s.branches.flatMap((b) => (b.prUrl ? [b.prUrl] : [])),
    ...(s.reason ? { failure: s.reason } : {}),
    ...(s.keptClone ? { keptClone: s.keptClone } : {}),
    ...(s.earlier ? { earlierRun: true } : {}),
  };
}

export function campaignTable(statuses: RepoStatus[]): string {
  const head = ['repository', 'status', 'branches', 'pull requests', 'failure'];
  const rows = statuses.map((s) => {
    const r = campaignRow(s);
    return [r.repository, r.status, r.branches.join(', ') || '-', r.pullRequests.join(', ') || '-', r.failure ?? ''];
  });
  const widths = head.map((h, col) => Math.max(h.length, ...rows.map((r) => r[col].length)));
  const line = (cells: string[]) => cells.map((cell, col) => (col === cells.length - 1 ? cell : cell.padEnd(widths[col]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
