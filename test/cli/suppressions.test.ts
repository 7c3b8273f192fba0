/**
 * Inline suppressions: honoured by scan and fix alike (they live in the engine), read from real
 * comments only, and reported when unused, naming an unknown rule, or malformed.
 */
import { describe, expect, it } from 'vitest';
import { makeProject, runCli } from '../support/cli.js';

const RULE = 'supervisor-max-children';

const NEXT_LINE = `defmodule MyApp.Pools do
  def start_a do
    # otpfix:disable-next-line ${RULE} -- the caller bounds this pool
    DynamicSupervisor.start_link(name: MyApp.A, strategy: :one_for_one)
  end

  def start_b do
    DynamicSupervisor.start_link(name: MyApp.B, strategy: :one_for_one)
  end

  def start_c do
    # otpfix:disable-next-line some-other-rule, ${RULE}
    Task.Supervisor.start_link(name: MyApp.C)
  end

  def start_d do
    _label = "a string, not a comment:
    # otpfix:disable-next-line ${RULE}
    "; DynamicSupervisor.start_link(name: MyApp.D, strategy: :one_for_one)
  end

  # Children started under each, handling {:error, _}: B and D are reported and fixable.
  def run_a(spec) do
    case DynamicSupervisor.start_child(MyApp.A, spec) do
      {:ok, pid} -> {:ok, pid}
      {:error, _} -> :busy
    end
  end

  def run_b(spec) do
    case DynamicSupervisor.start_child(MyApp.B, spec) do
      {:ok, pid} -> {:ok, pid}
      {:error, _} -> :busy
    end
  end

  def run_d(spec) do
    case DynamicSupervisor.start_child(MyApp.D, spec) do
      {:ok, pid} -> {:ok, pid}
      {:error, _} -> :busy
    end
  end

  def run_c(fun) do
    case Task.Supervisor.start_child(MyApp.C, fun) do
      {:ok, pid} -> {:ok, pid}
      {:error, _} -> :busy
    end
  end
end
`;

describe('# otpfix:disable-next-line', () => {
  it('silences the next line only, for the rules named; a directive inside a string is text', async () => {
    const p = makeProject({ 'lib/pools.ex': NEXT_LINE });
    try {
      const run = await runCli(['scan', 'lib', '--format', 'json'], p.dir);
      const report = JSON.parse(run.stdout);
      // A is silenced; C too (its list names two rules); B and D stand — D's "directive" is in a string.
      expect(report.findings.map((f: { line: number }) => f.line)).toEqual([8, 19]);
      expect(report.summary.suppressed).toBe(2);
      expect(report.summary.invalidSuppressions).toEqual([
        expect.objectContaining({ line: 12, kind: 'unknown-rule', rule: 'some-other-rule' }),
      ]);
      expect(run.stderr).toContain('lib/pools.ex:12:5: otpfix:disable-next-line names an unknown rule "some-other-rule"');
    } finally {
      p.remove();
    }
  });

  it('is honoured by fix: the silenced lines are not rewritten', async () => {
    // Start sites that handle {:error, _}, so that B and D are fixable.
    const starts = ['A', 'B', 'C', 'D']
      .map((n) => `  def run_${n.toLowerCase()}(spec) do\n    case DynamicSupervisor.start_child(MyApp.${n}, spec) do\n      {:ok, pid} -> {:ok, pid}\n      {:error, _} -> :busy\n    end\n  end\n`)
      .join('\n');
    const p = makeProject({ 'lib/pools.ex': NEXT_LINE, 'lib/work.ex': `defmodule MyApp.Work do\n${starts}end\n` });
    try {
      const run = await runCli(['fix', 'lib', '--yes'], p.dir);
      expect(run.code).toBe(0);
      const after = p.file('lib/pools.ex');
      expect(after).toContain('DynamicSupervisor.start_link(name: MyApp.A, strategy: :one_for_one)\n');
      expect(after).toContain('Task.Supervisor.start_link(name: MyApp.C)\n');
      expect(after).toContain('DynamicSupervisor.start_link(name: MyApp.B, strategy: :one_for_one, max_children: 1000)');
      expect(after).toContain('DynamicSupervisor.start_link(name: MyApp.D, strategy: :one_for_one, max_children: 1000)');
      expect(run.stderr).toMatch(/2 changes applied in 1 file.*2 suppressed by comments/);
    } finally {
      p.remove();
    }
  });
});

describe('# otpfix:disable-file', () => {
  const body = `defmodule MyApp.Legacy do
  def start do
    DynamicSupervisor.start_link(name: MyApp.Legacy, strategy: :one_for_one)
  end

  def open(spec), do: DynamicSupervisor.start_child(MyApp.Legacy, spec)
end
`;
  it.each([
    ['with the rule named', `# otpfix:disable-file ${RULE}\n`],
    ['without a rule (every rule)', '# otpfix:disable-file -- generated code\n'],
  ])('%s silences the whole file', async (_name, header) => {
    const p = makeProject({ 'lib/legacy.ex': header + body });
    try {
      const run = await runCli(['scan', 'lib', '--format', 'json'], p.dir);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout).summary).toMatchObject({ findings: 0, suppressed: 1, unusedSuppressions: [] });
      expect((await runCli(['fix', 'lib', '--yes'], p.dir)).code).toBe(0);
      expect(p.file('lib/legacy.ex')).toBe(header + body);
    } finally {
      p.remove();
    }
  });
});

describe('unused suppressions', () => {
  const text = `# otpfix:disable-file
defmodule MyApp.Bounded do
  # otpfix:disable-next-line ${RULE}
  def start do
    # otpfix:disable-next-line ${RULE}
    DynamicSupervisor.start_link(name: MyApp.Bounded, strategy: :one_for_one, max_children: 5)
  end

  # otpfix:disable-nextline ${RULE}
  def other, do: :ok
end
`;
  it('are warnings on stderr and listed in the JSON summary; the exit code is unchanged', async () => {
    const p = makeProject({ 'lib/bounded.ex': text });
    try {
      const run = await runCli(['scan', 'lib', '--format', 'json'], p.dir);
      expect(run.code).toBe(0);
      const summary = JSON.parse(run.stdout).summary;
      expect(summary.unusedSuppressions.map((n: { line: number }) => n.line)).toEqual([1, 3, 5]);
      expect(summary.invalidSuppressions).toEqual([expect.objectContaining({ line: 9, kind: 'malformed' })]);
      expect(run.stderr).toContain(`lib/bounded.ex:3:3: unused suppression: otpfix:disable-next-line ${RULE} silenced no finding on line 4`);
      expect(run.stderr).toContain('lib/bounded.ex:1:1: unused suppression: otpfix:disable-file silenced no finding');
      expect(run.stderr).toContain('lib/bounded.ex:9:3: unknown directive "otpfix:disable-nextline"');
      // --quiet drops the warnings.
      expect((await runCli(['scan', 'lib', '--quiet'], p.dir)).stderr).toBe('');
    } finally {
      p.remove();
    }
  });

  it('are not judged for rules that did not run', async () => {
    const p = makeProject({
      'lib/bounded.ex': text,
      '.otpfix.json': JSON.stringify({ rules: { [RULE]: 'off' } }),
    });
    try {
      const run = await runCli(['scan', 'lib', '--format', 'json'], p.dir);
      expect(JSON.parse(run.stdout).summary.unusedSuppressions).toEqual([]);
    } finally {
      p.remove();
    }
  });

  it('are reported by fix too', async () => {
    const p = makeProject({ 'lib/bounded.ex': text });
    try {
      const run = await runCli(['fix', 'lib', '--dry-run'], p.dir);
      expect(run.stderr).toContain('unused suppression: otpfix:disable-next-line');
    } finally {
      p.remove();
    }
  });
});
