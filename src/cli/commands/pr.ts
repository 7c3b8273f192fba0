import path from 'node:path';
import { unknownRuleHint, usageError } from '../../core/errors.js';
import { colorsFor, type Colors, type Io } from '../output.js';
import { Scratch } from '../review/git.js';
import { createPrBranches, GROUPINGS, type BranchOutcome, type PrLog, type PrOptions, type RepoOutcome } from '../review/pr.js';
import { createPrBranchesInRepos, readRepoList, type RepoStatus } from '../review/repos.js';
import type { Grouping } from '../review/pr-text.js';
import { transformById, transforms } from '../../transforms/index.js';

export interface PrCommandOptions extends Omit<PrOptions, 'scratch' | 'group'> {
  cwd: string;
  group: string;
  /** A file listing repositories (local paths or clone URLs), one per line. */
  repos?: string;
  /** Where to clone URLs from --repos (default: a new temporary directory). */
  cloneDir?: string;
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
  const entries = readRepoList(path.resolve(command.cwd, command.repos!));
  const c = colorsFor(io.stdout);
  const width = String(entries.length).length;
  const tag = (i: number) => `[${String(i + 1).padStart(width)}/${entries.length}] `;
  const names = (branches: BranchOutcome[]) => branches.map((b) => b.branch).join(', ');
  const statuses = await createPrBranchesInRepos(
    entries,
    { ...options, cloneDir: command.cloneDir ? path.resolve(command.cwd, command.cloneDir) : undefined },
    (i) => printer(io, c, tag(i)),
    (i, s) => {
      const n = s.branches.length;
      const kept = s.keptClone ? `; not pushed, so the clone is kept: ${s.keptClone}` : '';
      const line =
        s.status === 'ok'
          ? `${c.green('ok        ')} ${s.entry.label}: ${n} branch${n === 1 ? '' : 'es'} (${names(s.branches)})${kept}`
          : s.status === 'no-changes'
            ? `${c.dim('no changes')} ${s.entry.label}`
            : `${c.red('failed    ')} ${s.entry.label}: ${s.reason}${n ? ` (made ${n}: ${names(s.branches)})` : ''}${kept}`;
      io.out(`${tag(i)}${line}`);
    },
  );
  const count = (status: RepoStatus['status']) => statuses.filter((s) => s.status === status).length;
  const made = statuses.reduce((sum, s) => sum + s.branches.length, 0);
  const total = entries.length;
  io.out(
    c.bold(
      `${total} repositor${total === 1 ? 'y' : 'ies'}: ${count('ok')} ok, ${count('no-changes')} without changes, ${count('failed')} failed; ` +
        `${made} branch${made === 1 ? '' : 'es'} made.`,
    ),
  );
  return count('failed') ? 1 : 0;
}
