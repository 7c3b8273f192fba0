/**
 * A thin wrapper around the real `git` (and `gh`) executables: every call is an execFile (no shell)
 * with an explicit directory, and failures become OtpfixErrors that carry git's own message.
 * The user's checkout is only ever read; writes happen in temporary worktrees and in refs/heads.
 */
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ioError, OtpfixError, usageError } from '../../core/errors.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program; a non-zero exit is a result, not an exception. A missing program is an io error. */
export function exec(program: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<ExecResult> {
  // spawn reports a missing cwd as ENOENT too, which would read as "git is not installed".
  if (!existsSync(cwd) || !statSync(cwd).isDirectory()) return Promise.reject(ioError(`not a directory: ${cwd}`));
  return new Promise((resolve, reject) => {
    execFile(program, args, { cwd, env, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT')
        return reject(
          ioError(
            `${program} is not installed or not on PATH`,
            program === 'git' ? 'otpfix pr drives the git command line; install git (e.g. apt-get install git).' : undefined,
          ),
        );
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** A git command that failed: the message is git's own first error line(s). */
export class GitFailure extends OtpfixError {
  constructor(
    readonly args: string[],
    readonly result: ExecResult,
  ) {
    const said = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(0, 4).join(' / ');
    super('io', `git ${args.find((a) => !a.startsWith('-')) ?? ''} failed: ${said || `exit ${result.code}`}`);
  }
}

export class Git {
  constructor(
    /** The directory commands run in (`git -C dir`). */
    readonly dir: string,
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** `git <args>`; throws GitFailure on a non-zero exit. Returns stdout without its final newline. */
  async run(...args: string[]): Promise<string> {
    const result = await this.tryRun(...args);
    if (result.code !== 0) throw new GitFailure(args, result);
    return result.stdout.replace(/\n$/, '');
  }

  tryRun(...args: string[]): Promise<ExecResult> {
    // No prompts: a run over many repositories must never wait for a password.
    return exec('git', args, this.dir, { ...this.env, GIT_TERMINAL_PROMPT: '0' });
  }

  in(dir: string): Git {
    return new Git(dir, this.env);
  }
}

export interface RepoState {
  git: Git;
  /** The work tree's top directory (real path, as git prints it). */
  root: string;
  /** The commit HEAD points to. */
  head: string;
  /** The checked-out branch; undefined when HEAD is detached. */
  branch?: string;
  /** `git status --porcelain` lines for tracked files with staged or unstaged changes. */
  dirty: string[];
}

/** Where `cwd` is in git terms; clear errors for "no git", "not a repository", "no commits yet". */
export async function openRepo(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<RepoState> {
  const git = new Git(cwd, env);
  const top = await git.tryRun('rev-parse', '--show-toplevel');
  if (top.code !== 0)
    throw usageError(
      `not a git repository (or a bare one): ${cwd}`,
      'otpfix pr makes branches, so it runs inside a git checkout; use `otpfix fix` elsewhere.',
    );
  const root = top.stdout.trim();
  const repo = git.in(root);
  const head = await repo.tryRun('rev-parse', '--verify', '--quiet', 'HEAD^{commit}');
  if (head.code !== 0) throw usageError(`${root} has no commits yet`, 'Branches start from HEAD: commit something first.');
  const branch = await repo.tryRun('symbolic-ref', '--quiet', '--short', 'HEAD');
  // --no-optional-locks: a plain `git status` may rewrite the index's stat cache; we leave it alone.
  const status = await repo.run('--no-optional-locks', 'status', '--porcelain', '--untracked-files=no');
  return {
    git: repo,
    root,
    head: head.stdout.trim(),
    branch: branch.code === 0 ? branch.stdout.trim() : undefined,
    dirty: status.split('\n').filter(Boolean),
  };
}

export async function branchExists(git: Git, name: string): Promise<boolean> {
  return (await git.tryRun('show-ref', '--verify', '--quiet', `refs/heads/${name}`)).code === 0;
}

export async function isValidBranchName(git: Git, name: string): Promise<boolean> {
  return (await git.tryRun('check-ref-format', '--branch', name)).code === 0;
}

/**
 * Temporary worktrees and directories, remembered so that an interrupted run can still remove them
 * (synchronously, from a signal handler) instead of leaving entries in .git/worktrees behind.
 */
export class Scratch {
  private readonly worktrees = new Map<string, Git>();
  private readonly dirs = new Set<string>();

  makeTempDir(prefix: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    this.dirs.add(dir);
    return dir;
  }

  removeTempDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
    this.dirs.delete(dir);
  }

  async addWorktree(git: Git, dir: string, commit: string): Promise<Git> {
    // Detached: the branch is only created once its commit exists (nothing to undo on failure).
    await git.run('worktree', 'add', '--detach', '--quiet', dir, commit);
    this.worktrees.set(dir, git);
    return git.in(dir);
  }

  async removeWorktree(dir: string): Promise<void> {
    const git = this.worktrees.get(dir);
    if (!git) return;
    this.worktrees.delete(dir);
    const removed = await git.tryRun('worktree', 'remove', '--force', dir);
    if (removed.code !== 0) {
      rmSync(dir, { recursive: true, force: true });
      await git.tryRun('worktree', 'prune');
    }
  }

  cleanupSync(): void {
    for (const [dir, git] of this.worktrees) {
      try {
        execFileSync('git', ['-C', git.dir, 'worktree', 'remove', '--force', dir], { env: git.env, stdio: 'ignore' });
      } catch {
        rmSync(dir, { recursive: true, force: true });
        try {
          execFileSync('git', ['-C', git.dir, 'worktree', 'prune'], { env: git.env, stdio: 'ignore' });
        } catch {
          // nothing more to do: `git worktree prune` later removes the stale entry
        }
      }
    }
    this.worktrees.clear();
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    this.dirs.clear();
  }
}

/** The full path of an executable found on PATH, or undefined. */
export function which(program: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A clone URL (scheme://… or scp-like user@host:path) rather than a local path. */
export function isCloneUrl(entry: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) || /^[^/\s:]+@[^/\s:]+:/.test(entry);
}

export async function clone(url: string, dest: string, env: NodeJS.ProcessEnv): Promise<void> {
  const parent = path.dirname(dest);
  const result = await exec('git', ['clone', '--quiet', url, dest], parent, { ...env, GIT_TERMINAL_PROMPT: '0' });
  if (result.code !== 0) {
    const said = result.stderr.trim().split('\n').filter(Boolean).slice(-2).join(' / ');
    throw ioError(`cannot clone ${url}: ${said || `git exit ${result.code}`}`);
  }
}
