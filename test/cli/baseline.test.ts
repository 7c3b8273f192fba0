/**
 * --write-baseline / --baseline: only findings not in the baseline are reported, matched by rule,
 * file, enclosing function and code, so lines added above a finding do not make it new; SARIF carries
 * the same fingerprint in partialFingerprints.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type * as Sarif from 'sarif';
import { codeOf } from '../../src/core/baseline.js';
import { APP, makeProject, POOL, runCli, type Project } from '../support/cli.js';

let project: Project;
beforeEach(() => {
  project = makeProject({ 'lib/app.ex': APP, 'lib/pool.ex': POOL });
});
afterEach(() => project.remove());

const scan = async (...args: string[]) => {
  const run = await runCli(['scan', 'lib', '--format', 'json', ...args], project.dir);
  return { code: run.code, stderr: run.stderr, findings: JSON.parse(run.stdout).findings as Array<{ file: string; line: number; ruleId: string }> };
};
const sarifPrints = async (...args: string[]) => {
  const run = await runCli(['scan', 'lib', '--format', 'sarif', ...args], project.dir);
  const log = JSON.parse(run.stdout) as Sarif.Log;
  return log.runs[0].results!.map((r) => r.partialFingerprints!['otpfix/v1']);
};

describe('baseline', () => {
  it('records the findings, and later reports none of them, even after lines shift', async () => {
    const before = await scan();
    expect(before.findings.length).toBe(3);
    const write = await runCli(['scan', 'lib', '--write-baseline', 'otpfix-baseline.json'], project.dir);
    expect(write.code).toBe(0);
    expect(write.stderr).toContain('wrote otpfix-baseline.json (3 findings)');
    const baseline = JSON.parse(project.file('otpfix-baseline.json'));
    expect(baseline.findings.map((e: { function: string }) => e.function).sort()).toEqual(
      ['MyApp.Application.start/2', 'MyApp.Pool.start_link/1', 'MyApp.Pool.start_tasks/0'].sort(),
    );

    const clean = await scan('--baseline', 'otpfix-baseline.json');
    expect(clean.code).toBe(0);
    expect(clean.findings).toEqual([]);

    // Lines added above and between the findings, and the code reindented: still the same findings.
    const printsBefore = await sarifPrints();
    project.write('lib/pool.ex', `# A comment\n# and another\n\n${POOL.replace('  def start_tasks do', '  @doc "tasks"\n  def start_tasks do').replace('    Task.', '      Task.')}`);
    const shifted = await scan();
    expect(shifted.findings.map((f) => f.line)).not.toEqual(before.findings.map((f) => f.line));
    expect((await scan('--baseline', 'otpfix-baseline.json')).findings).toEqual([]);
    // Code scanning sees the same alerts: the SARIF fingerprints did not move with the lines.
    expect((await sarifPrints()).sort()).toEqual(printsBefore.sort());
  });

  it('reports a new finding, a second copy of a baselined one, and one moved to another function', async () => {
    await runCli(['scan', 'lib', '--write-baseline', 'b.json'], project.dir);
    const more = POOL.replace(
      '  def start_tasks do\n    Task.Supervisor.start_link(name: MyApp.Tasks)\n',
      '  def start_tasks do\n    Task.Supervisor.start_link(name: MyApp.Tasks)\n    Task.Supervisor.start_link(name: MyApp.Tasks)\n',
    );
    expect(more).not.toBe(POOL);
    project.write(
      'lib/pool.ex',
      `${more}\ndefmodule MyApp.Other do\n  def start do\n    Task.Supervisor.start_link(name: MyApp.OtherTasks)\n  end\n\n  def run(fun), do: Task.Supervisor.start_child(MyApp.OtherTasks, fun)\nend\n`,
    );
    const run = await scan('--baseline', 'b.json');
    expect(run.code).toBe(1);
    expect(run.findings.length).toBe(2);
    expect(run.findings.every((f) => f.file === 'lib/pool.ex')).toBe(true);
    // Two identical findings in one function get distinct SARIF fingerprints.
    const prints = await sarifPrints();
    expect(new Set(prints).size).toBe(prints.length);

    // The same code moved into another function is a new finding there.
    project.write('lib/pool.ex', POOL.replace('def start_tasks do', 'def start_workers do'));
    const moved = await scan('--baseline', 'b.json');
    const line = POOL.split('\n').findIndex((l) => l.includes('Task.Supervisor.start_link')) + 1;
    expect(moved.findings.map((f) => f.line)).toEqual([line]);
  });

  it('fix --baseline rewrites only the new findings', async () => {
    await runCli(['scan', 'lib', '--write-baseline', 'b.json'], project.dir);
    project.write(
      'lib/extra.ex',
      'defmodule MyApp.Extra do\n  def start do\n    Task.Supervisor.start_link(name: MyApp.Extra)\n  end\n\n  def run(fun) do\n    case Task.Supervisor.start_child(MyApp.Extra, fun) do\n      {:ok, _pid} -> :ok\n      {:error, _reason} -> :busy\n    end\n  end\nend\n',
    );
    const dry = await runCli(['fix', '--dry-run', 'lib', '--baseline', 'b.json'], project.dir);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('lib/extra.ex');
    expect(dry.stdout).not.toContain('lib/pool.ex');
    expect(dry.stdout).not.toContain('lib/app.ex');
  });

  it('rejects a missing or malformed baseline, and --baseline with --write-baseline', async () => {
    const missing = await runCli(['scan', 'lib', '--baseline', 'nope.json'], project.dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read the baseline');
    project.write('bad.json', '{"findings": 3}');
    const bad = await runCli(['scan', 'lib', '--baseline', 'bad.json'], project.dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not an otpfix baseline');
    const both = await runCli(['scan', 'lib', '--baseline', 'bad.json', '--write-baseline', 'x.json'], project.dir);
    expect(both.code).toBe(2);
    expect(() => readFileSync(project.path('x.json'))).toThrow();
  });

  it('fingerprints short findings whole and long ones by their first line, whitespace collapsed', () => {
    expect(codeOf('a(\n   b,\n  c)', 0, 13)).toBe('a( b, c)');
    const long = 'call(\n1,\n2,\n3,\n4,\n5)';
    expect(codeOf(long, 0, long.length)).toBe('call(');
  });
});
