/**
 * Dry-run review on a real git repository: `--dry-run` prints the diff and writes nothing,
 * `--patch` writes a patch that both `git apply` and `patch -p1` accept — including a CRLF file,
 * non-ASCII text, a file without a trailing newline and a name with a space — and `--check`
 * exits 1 exactly when changes would be made.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { APP, CLEAN, makeProject, POOL, runCli, spawnCli, WORK, type Project } from '../support/cli.js';

const hasPatch = spawnSync('patch', ['--version']).status === 0;
if (!hasPatch) console.warn('SKIPPED: GNU patch is not installed, so `patch -p1` was not tried on the generated patch (CI installs it: apt-get install -y patch)');

const FILES = {
  'lib/app.ex': APP, // non-ASCII text near the change
  'lib/pool crlf.ex': POOL.replace(/\n/g, '\r\n'), // CRLF line endings, a space in the name
  'lib/no_eol.ex': POOL.replace('MyApp.Pool', 'MyApp.NoEol').replace(/\n$/, ''), // no trailing newline
  'lib/work.ex': WORK,
  'lib/work_no_eol.ex': WORK.replace('MyApp.Work', 'MyApp.WorkNoEol').replaceAll('MyApp.Pool', 'MyApp.NoEol'), // handles NoEol's starts
  'lib/clean.ex': CLEAN,
};

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=otpfix', '-c', 'user.email=otpfix@example.invalid', '-c', 'core.autocrlf=false', ...args], {
    cwd: dir,
    encoding: 'utf8',
  });
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of Object.keys(FILES)) out[rel] = readFileSync(path.join(dir, rel), 'latin1');
  return out;
}

let repo: Project;
beforeEach(() => {
  repo = makeProject(FILES, 'otpfix-repo-');
  git(repo.dir, 'init', '-q');
  git(repo.dir, 'add', '.');
  git(repo.dir, 'commit', '-qm', 'initial');
});
afterEach(() => repo.remove());

/** What `fix --yes` makes of the same files, for comparison. */
async function expectedAfterFix(): Promise<Record<string, string>> {
  const copy = makeProject(FILES);
  try {
    expect((await runCli(['fix', 'lib', '--yes'], copy.dir)).code).toBe(0);
    return snapshot(copy.dir);
  } finally {
    copy.remove();
  }
}

describe('fix --patch', () => {
  it('writes a patch that git apply accepts, giving exactly what fix --yes writes; sources untouched', async () => {
    const before = snapshot(repo.dir);
    const run = await runCli(['fix', 'lib', '--patch', 'otpfix.patch'], repo.dir);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('wrote otpfix.patch (3 files)');
    expect(snapshot(repo.dir)).toEqual(before);
    expect(git(repo.dir, 'status', '--porcelain')).toBe('?? otpfix.patch\n');

    const patch = readFileSync(repo.path('otpfix.patch'), 'latin1');
    expect(patch).toContain('\\ No newline at end of file');
    expect(patch).toContain('max_children: 1000)\r\n');
    expect(patch).toContain('--- a/lib/pool crlf.ex\t');

    git(repo.dir, 'apply', '--check', 'otpfix.patch');
    git(repo.dir, 'apply', 'otpfix.patch');
    const expected = await expectedAfterFix();
    expect(snapshot(repo.dir)).toEqual(expected);
    // Every changed file really changed, the clean one did not.
    expect(git(repo.dir, 'diff', '--name-only').trim().split('\n').sort()).toEqual(['lib/app.ex', 'lib/no_eol.ex', 'lib/pool crlf.ex']);
    // The CRLF file kept CRLF everywhere; the file without trailing newline still has none.
    expect(repo.file('lib/pool crlf.ex').replace(/\r\n/g, '')).not.toContain('\n');
    expect(repo.file('lib/no_eol.ex').endsWith('end')).toBe(true);
    expect(repo.file('lib/app.ex')).toContain('Café ☕ started');
  });

  it.skipIf(!hasPatch)('writes a patch that patch -p1 accepts', async () => {
    expect((await runCli(['fix', 'lib', '--patch', 'otpfix.patch'], repo.dir)).code).toBe(0);
    const result = spawnSync('patch', ['-p1', '--batch', '--forward', '-i', 'otpfix.patch'], { cwd: repo.dir, encoding: 'utf8' });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    const after = snapshot(repo.dir);
    expect(after).toEqual(await expectedAfterFix());
    expect(readdirSync(repo.path('lib')).filter((f) => f.endsWith('.orig') || f.endsWith('.rej'))).toEqual([]);
  });

  it('a patch path in a missing directory is an I/O error (exit 3) and nothing is written', async () => {
    const before = snapshot(repo.dir);
    const run = await runCli(['fix', 'lib', '--patch', 'no/such/dir/x.patch'], repo.dir);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('cannot write patch no/such/dir/x.patch');
    expect(snapshot(repo.dir)).toEqual(before);
  });

  it('with nothing to change, writes an empty patch and says so', async () => {
    const run = await runCli(['fix', 'lib/clean.ex', '--patch', 'empty.patch'], repo.dir);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('no changes: wrote an empty empty.patch');
    expect(readFileSync(repo.path('empty.patch'), 'utf8')).toBe('');
  });
});

describe('fix --dry-run', () => {
  it('prints the same unified diff as the patch, plain when piped, and writes nothing', async () => {
    expect((await runCli(['fix', 'lib', '--patch', 'otpfix.patch'], repo.dir)).code).toBe(0);
    const before = snapshot(repo.dir);
    const run = spawnCli(['fix', 'lib', '--dry-run'], repo.dir);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(/\x1b\[/);
    expect(run.stdout).toBe(readFileSync(repo.path('otpfix.patch'), 'utf8'));
    expect(snapshot(repo.dir)).toEqual(before);
    expect(run.stderr).toContain('5 changes proposed in 3 files');
  });

  it('colours the diff when forced and honours NO_COLOR', () => {
    const forced = spawnCli(['fix', 'lib', '--dry-run'], repo.dir, { FORCE_COLOR: '1' });
    expect(forced.stdout).toMatch(/\x1b\[32m\+/);
    expect(forced.stdout).toMatch(/\x1b\[31m-/);
    expect(spawnCli(['fix', 'lib', '--dry-run'], repo.dir, { NO_COLOR: '1' }).stdout).not.toMatch(/\x1b\[/);
  });
});

describe('fix --check', () => {
  it('exits 1 when changes would be made and 0 when none, writing nothing', async () => {
    const before = snapshot(repo.dir);
    const dirty = spawnCli(['fix', 'lib', '--check'], repo.dir);
    expect(dirty.code).toBe(1);
    expect(dirty.stdout).toBe('');
    expect(snapshot(repo.dir)).toEqual(before);
    expect(spawnCli(['fix', 'lib/clean.ex', '--check'], repo.dir).code).toBe(0);
    // After applying the fixes, the check passes.
    expect((await runCli(['fix', 'lib', '--yes'], repo.dir)).code).toBe(0);
    expect(spawnCli(['fix', 'lib', '--check'], repo.dir).code).toBe(0);
  });

  it('with --quiet says nothing but sets the exit code', () => {
    const run = spawnCli(['fix', 'lib', '--check', '--quiet'], repo.dir);
    expect([run.code, run.stdout, run.stderr]).toEqual([1, '', '']);
  });

  it('with --dry-run prints the diff as well', () => {
    const run = spawnCli(['fix', 'lib', '--check', '--dry-run'], repo.dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('diff --git a/lib/app.ex b/lib/app.ex');
  });
});

describe('fix without a terminal', () => {
  it('refuses to guess: exit 2 and a hint, nothing written', () => {
    const before = snapshot(repo.dir);
    const run = spawnCli(['fix', 'lib'], repo.dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Pass --yes');
    expect(snapshot(repo.dir)).toEqual(before);
  });
});
