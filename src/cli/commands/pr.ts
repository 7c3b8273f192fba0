import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { errorMessage, OtpfixError, usageError } from '../../core/errors.js';
import { colorsFor, type Colors, type Io } from '../output.js';
import { clone, isCloneUrl, Scratch } from '../review/git.js';
import { createPrBranches, GROUPINGS, refSafe, type BranchOutcome, type PrLog, type PrOptions, type RepoOutcome } from '../review/pr.js';
import type { Grouping } from '../review/pr-text.js';
import { transformById } from '../../transforms/index.js';

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
    if (!transformById(id)) throw usageError(`unknown rule "${id}"`, 'Run `otpfix rules` to list the rules.');
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

interface RepoEntry {
  /** As written in the list. */
  label: string;
  url?: string;
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

async function many(command: PrCommandOptions, options: PrOptions, io: Io): Promise<number> {
  const entries = readRepoList(path.resolve(command.cwd, command.repos!));
  const c = colorsFor(io.stdout);
  const cloneRoot = command.cloneDir ? path.resolve(command.cwd, command.cloneDir) : undefined;
  let tempClones: string | undefined;
  const names = new Set<string>();
  const unique = (base: string) => {
    let name = refSafe(base);
    for (let n = 2; names.has(name); n++) name = `${refSafe(base)}-${n}`;
    names.add(name);
    return name;
  };
  const counts = { ok: 0, unchanged: 0, failed: 0, branches: 0 };
  const width = String(entries.length).length;

  for (const [i, entry] of entries.entries()) {
    const tag = `[${String(i + 1).padStart(width)}/${entries.length}] `;
    const name = unique(path.basename(entry.url ? entry.url.replace(/\.git\/?$/, '').replace(/\/$/, '') : entry.dir!));
    let dir = entry.dir;
    let cloned = false;
    let status: string;
    try {
      if (entry.url) {
        const root = cloneRoot ?? (tempClones ??= mkdtempSync(path.join(tmpdir(), 'otpfix-repos-')));
        mkdirSync(root, { recursive: true });
        dir = path.join(root, name);
        if (existsSync(dir)) throw usageError(`${dir} already exists; not cloning over it`);
        await clone(entry.url, dir, options.env);
        cloned = true;
      } else if (!existsSync(dir!) || !statSync(dir!).isDirectory()) throw usageError(`no such directory: ${dir}`);
      const outcome = await createPrBranches(dir!, { ...options, bodyDir: options.bodyDir && path.join(options.bodyDir, name) }, printer(io, c, tag));
      const n = outcome.branches.length;
      counts.branches += n;
      const kept = cloned && n && !outcome.branches.every((b) => b.pushed) ? `; not pushed, so the clone is kept: ${dir}` : '';
      if (cloned && !kept) rmSync(dir!, { recursive: true, force: true });
      if (outcome.failures.length) {
        counts.failed++;
        status = `${c.red('failed    ')} ${entry.label}: ${outcome.failures.join('; ')}${n ? ` (made ${n}: ${outcome.branches.map((b) => b.branch).join(', ')})` : ''}${kept}`;
      } else if (n) {
        counts.ok++;
        status = `${c.green('ok        ')} ${entry.label}: ${n} branch${n === 1 ? '' : 'es'} (${outcome.branches.map((b) => b.branch).join(', ')})${kept}`;
      } else {
        counts.unchanged++;
        status = `${c.dim('no changes')} ${entry.label}`;
      }
    } catch (err) {
      counts.failed++;
      if (cloned) rmSync(dir!, { recursive: true, force: true });
      const reason = err instanceof OtpfixError ? err.message : `internal error: ${errorMessage(err)}`;
      status = `${c.red('failed    ')} ${entry.label}: ${reason}`;
    }
    io.out(`${tag}${status}`);
  }
  if (tempClones && !readdirSync(tempClones).length) rmSync(tempClones, { recursive: true, force: true });

  const total = entries.length;
  io.out(
    c.bold(
      `${total} repositor${total === 1 ? 'y' : 'ies'}: ${counts.ok} ok, ${counts.unchanged} without changes, ${counts.failed} failed; ` +
        `${counts.branches} branch${counts.branches === 1 ? '' : 'es'} made.`,
    ),
  );
  return counts.failed ? 1 : 0;
}
