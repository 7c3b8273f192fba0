/**
 * --changed-since on a fixture git history: findings only in files (with --lines, only on lines)
 * changed since the merge base, while the analysis still reads the unchanged files.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUnifiedZero } from '../../src/cli/changed-since.js';
import { CLEAN, makeProject, POOL, runCli, type Project } from '../support/cli.js';
import { commitAll, git } from '../support/git.js';

const APPLICATION = `defmodule MyApp.Application do
  use Application

  def start(_type, _args) do
    children = [{DynamicSupervisor, name: MyApp.Sessions, strategy: :one_for_one}]
    Supervisor.start_link(children, strategy: :one_for_one)
  end
end
`;
/**
 * The evidence that makes MyApp.Sessions a finding: children are started under it. The
 * other supervisors' children are started here too, handling {:error, _}, so their limits are fixable.
 */
const SESSIONS = `defmodule MyApp.Sessions do
  def open(user_id) do
    DynamicSupervisor.start_child(MyApp.Sessions, {MyApp.Session, user_id})
  end

  def run(spec) do
    case DynamicSupervisor.start_child(MyApp.Pool, spec) do
      {:ok, pid} -> {:ok, pid}
      {:error, _} -> :busy
    end
  end

  def run_clean(spec) do
    case DynamicSupervisor.start_child(MyApp.Clean, spec) do
      {:ok, pid} -> {:ok, pid}
      {:error, _} -> :busy
    end
  end

  def later(fun) do
    case Task.Supervisor.start_child(MyApp.Tasks, fun) do
      {:ok, _} -> :ok
      {:error, _} -> :busy
    end
  end

  def later_more(fun) do
    case Task.Supervisor.start_child(MyApp.More, fun) do
      {:ok, _} -> :ok
      {:error, _} -> :busy
    end
  end
end
`;
const LEGACY = `defmodule MyApp.Legacy do
  def start_link(_opts) do
    DynamicSupervisor.start_link(name: MyApp.Legacy, strategy: :one_for_one)
  end

  def start(spec) do
    case DynamicSupervisor.start_child(MyApp.Legacy, spec) do
      {:ok, pid} -> {:ok, pid}
      {:error, _} -> :busy
    end
  end
end
`;
const MORE = `
defmodule MyApp.More do
  def start_more do
    Task.Supervisor.start_link(name: MyApp.More)
  end

  def go(fun) do
    case Task.Supervisor.start_child(MyApp.More, fun) do
      {:ok, _} -> :ok
      {:error, _} -> :busy
    end
  end
end
`;

let project: Project;
let base: string;
const json = async (...args: string[]) => {
  const run = await runCli(['scan', '--format', 'json', ...args], project.dir);
  expect(run.stderr).not.toMatch(/error/i);
  return JSON.parse(run.stdout) as { findings: Array<{ file: string; line: number; severity: string; ruleId: string }> };
};

beforeAll(() => {
  project = makeProject({ 'lib/pool.ex': POOL, 'lib/clean.ex': CLEAN, 'lib/sessions.ex': SESSIONS, 'lib/legacy.ex': LEGACY });
  git(project.dir, 'init', '--quiet');
  base = commitAll(project.dir, 'base');
  // main moves on after the branch point: its changes are not the pull request's.
  project.write('lib/legacy.ex', `# touched on main\n${LEGACY}`);
  commitAll(project.dir, 'main moves on');
  git(project.dir, 'checkout', '--quiet', '-b', 'feature', base);
  // Committed on the branch: a comment shifts pool.ex's findings down, a new finding at its end.
  project.write('lib/pool.ex', `# shifted\n# down\n${POOL}${MORE}`);
  commitAll(project.dir, 'feature work');
  // Uncommitted: a new (untracked) file, and the limit removed from clean.ex.
  project.write('lib/application.ex', APPLICATION);
  project.write('lib/clean.ex', CLEAN.replace(', max_children: 10', ''));
}, 30_000);
afterAll(() => project.remove());

describe('--changed-since', () => {
  it('reports only findings in files changed since the merge base, with the whole project analysed', async () => {
    const all = await json('lib');
    expect(new Set(all.findings.map((f) => f.file))).toEqual(new Set(['lib/pool.ex', 'lib/clean.ex', 'lib/application.ex', 'lib/legacy.ex']));

    const changed = await json('lib', '--changed-since', 'main');
    expect(new Set(changed.findings.map((f) => f.file))).toEqual(new Set(['lib/pool.ex', 'lib/clean.ex', 'lib/application.ex']));
    // legacy.ex changed on main only: the merge base, not main's tip, is the base. Same as the base commit.
    expect((await json('lib', '--changed-since', base)).findings).toEqual(changed.findings);
    // sessions.ex is unchanged, yet it is read: its start_child calls make the new supervisor a finding.
    expect(changed.findings.some((f) => f.file === 'lib/application.ex')).toBe(true);

    // Nothing changed since HEAD in committed files: only the uncommitted ones remain.
    const sinceHead = await json('lib', '--changed-since', 'HEAD');
    expect(new Set(sinceHead.findings.map((f) => f.file))).toEqual(new Set(['lib/clean.ex', 'lib/application.ex']));
  });

  it('--lines keeps only findings on changed lines (shifted old findings are not reported)', async () => {
    const all = (await json('lib/pool.ex')).findings;
    expect(all.length).toBe(3);
    const lines = (await json('lib', '--changed-since', 'main', '--lines')).findings;
    const pool = lines.filter((f) => f.file === 'lib/pool.ex');
    expect(pool.map((f) => f.line)).toEqual([all[2].line]);
    // The deleted option makes the line above the deletion changed; a new file counts whole.
    expect(lines.some((f) => f.file === 'lib/clean.ex')).toBe(true);
    expect(lines.some((f) => f.file === 'lib/application.ex')).toBe(true);
  });

  it('fix --changed-since rewrites only in the changed scope', async () => {
    const dry = await runCli(['fix', '--dry-run', 'lib', '--changed-since', 'HEAD'], project.dir);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('lib/clean.ex');
    expect(dry.stdout).not.toContain('lib/pool.ex');
    // The whole of lib is analysed (the pools' start sites are in sessions.ex); --lines limits the rewrites.
    const lines = await runCli(['fix', '--dry-run', 'lib', '--changed-since', 'main', '--lines'], project.dir);
    const added = lines.stdout.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'));
    expect(added.join('\n')).toMatch(/MyApp\.More/);
    expect(added.join('\n')).not.toMatch(/MyApp\.(Pool|Tasks)/);
  });

  it('a baseline written at the branch point reports only what the branch added, across shifted lines', async () => {
    const wt = `${project.dir}-base`;
    git(project.dir, 'worktree', 'add', '--quiet', '--detach', wt, base);
    try {
      const write = await runCli(['scan', 'lib', '--write-baseline', path.join(project.dir, 'base.json')], wt);
      expect(write.stderr).toContain('(3 findings)');
    } finally {
      git(project.dir, 'worktree', 'remove', '--force', wt);
    }
    const pool = (await json('lib/pool.ex')).findings;
    const fresh = (await json('lib', '--baseline', 'base.json')).findings;
    // pool.ex's two old findings moved down two lines and stay baselined; legacy.ex is unchanged.
    expect(fresh.map((f) => `${f.file}:${f.line}`).sort()).toEqual(
      ['lib/application.ex:5', 'lib/clean.ex:3', `lib/pool.ex:${pool[2].line}`].sort(),
    );
  });

  it('explains a bad ref, a directory outside git, and --lines alone', async () => {
    const said = await runCli(['scan', 'lib', '--changed-since', 'main', '--lines'], project.dir);
    expect(said.stderr).toMatch(/^reporting on 3 of 5 files: lines changed since main \(merge base [0-9a-f]{12}\)$/m);
    const bad = await runCli(['scan', 'lib', '--changed-since', 'no-such-ref'], project.dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown git revision "no-such-ref"');
    const lines = await runCli(['scan', 'lib', '--lines'], project.dir);
    expect(lines.code).toBe(2);
    expect(lines.stderr).toContain('--lines needs --changed-since');
    const outside = makeProject({ 'a.ex': CLEAN });
    try {
      const run = await runCli(['scan', '.', '--changed-since', 'main'], outside.dir);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('needs a git repository');
    } finally {
      outside.remove();
    }
  });

  it('parses git diff headers: renames, new and deleted files, quoted paths, pure deletions', () => {
    const diff = [
      'diff --git a/lib/a.ex b/lib/a.ex',
      '--- a/lib/a.ex',
      '+++ b/lib/a.ex',
      '@@ -3,0 +4,2 @@',
      '@@ -10 +12 @@',
      '@@ -20,2 +21,0 @@',
      'diff --git a/new.ex b/new.ex',
      '--- /dev/null',
      '+++ b/new.ex',
      '@@ -0,0 +1,3 @@',
      'diff --git a/gone.ex b/gone.ex',
      '--- a/gone.ex',
      '+++ /dev/null',
      'diff --git "a/caf\\303\\251.ex" "b/caf\\303\\251.ex"',
      '--- "a/caf\\303\\251.ex"',
      '+++ "b/caf\\303\\251.ex"',
      '@@ -1 +1 @@',
    ].join('\n');
    const parsed = parseUnifiedZero(diff);
    expect([...(parsed.get('lib/a.ex') as Set<number>)].sort((a, b) => a - b)).toEqual([4, 5, 12, 21, 22]);
    expect(parsed.get('new.ex')).toBe('all');
    expect(parsed.has('gone.ex')).toBe(false);
    expect(parsed.get('café.ex')).toEqual(new Set([1]));
  });
});
