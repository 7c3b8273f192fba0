/** `otpfix scan` through the real CLI: formats, exit codes, --fail-on, --quiet/--verbose, bad input. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeData, escapeProperty } from '../../src/cli/reporters/github.js';
import { APP, CLEAN, makeProject, POOL, runCli, spawnCli, type Project } from '../support/cli.js';

let project: Project;
beforeAll(() => {
  project = makeProject({ 'lib/my_app/application.ex': APP, 'lib/my_app/pool.ex': POOL, 'lib/my_app/clean.ex': CLEAN });
});
afterAll(() => project.remove());

describe('scan exit codes', () => {
  it('exits 1 with findings and 0 without', async () => {
    expect((await runCli(['scan', 'lib'], project.dir)).code).toBe(1);
    expect((await runCli(['scan', 'lib/my_app/clean.ex'], project.dir)).code).toBe(0);
  });

  it('exits 2 on usage errors, naming the problem', async () => {
    const missing = await runCli(['scan', 'no/such/dir'], project.dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('path does not exist: no/such/dir');
    const format = await runCli(['scan', 'lib', '--format', 'xml'], project.dir);
    expect(format.code).toBe(2);
    expect(format.stderr).toMatch(/xml/);
    const failOn = await runCli(['scan', 'lib', '--fail-on', 'critical'], project.dir);
    expect(failOn.code).toBe(2);
    expect(failOn.stderr).toMatch(/critical/);
    const rule = await runCli(['scan', 'lib', '--rule', 'no-such-rule'], project.dir);
    expect(rule.code).toBe(2);
    expect(rule.stderr).toContain('unknown rule "no-such-rule"');
    const both = await runCli(['scan', 'lib', '--quiet', '--verbose'], project.dir);
    expect(both.code).toBe(2);
  });

  it('--fail-on exits 1 only for findings at or above the threshold', async () => {
    // Every finding here is medium (children started from the callers of public functions).
    expect((await runCli(['scan', 'lib', '--fail-on', 'high'], project.dir)).code).toBe(0);
    expect((await runCli(['scan', 'lib', '--fail-on', 'medium'], project.dir)).code).toBe(1);
    expect((await runCli(['scan', 'lib/my_app/pool.ex', '--fail-on', 'high'], project.dir)).code).toBe(0);
    expect((await runCli(['scan', 'lib/my_app/pool.ex', '--fail-on', 'medium'], project.dir)).code).toBe(1);
    expect((await runCli(['scan', 'lib/my_app/pool.ex', '--fail-on', 'info'], project.dir)).code).toBe(1);
    expect((await runCli(['scan', 'lib/my_app/clean.ex', '--fail-on', 'info'], project.dir)).code).toBe(0);
    // Lowered to low by config, the findings no longer fail a --fail-on medium run.
    const lowered = makeProject({
      'lib/pool.ex': POOL,
      '.otpfix.json': JSON.stringify({ rules: { 'supervisor-max-children': { severity: 'low' } } }),
    });
    try {
      expect((await runCli(['scan', 'lib', '--fail-on', 'medium'], lowered.dir)).code).toBe(0);
      expect((await runCli(['scan', 'lib', '--fail-on', 'low'], lowered.dir)).code).toBe(1);
      expect((await runCli(['scan', 'lib'], lowered.dir)).code).toBe(1);
    } finally {
      lowered.remove();
    }
  });
});

describe('scan --format json', () => {
  it('keeps the JSON contract of DESIGN.md', async () => {
    const run = await runCli(['scan', 'lib', '--format', 'json'], project.dir);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.version).toBe(1);
    expect(report.findings).toHaveLength(3);
    for (const f of report.findings) {
      expect(Object.keys(f).sort()).toEqual(['column', 'endColumn', 'endLine', 'file', 'fixable', 'line', 'message', 'ruleId', 'severity'].sort());
      expect(f.file.startsWith('lib/my_app/')).toBe(true);
    }
    const app = report.findings.find((f: { file: string }) => f.file === 'lib/my_app/application.ex');
    // `{DynamicSupervisor, ...}` on line 8, column 7 (1-based).
    expect([app.line, app.column]).toEqual([8, 7]);
    // pool.ex's supervisors have no start site in the project, so only application.ex's is fixable.
    expect(report.summary).toMatchObject({ files: 3, findings: 3, fixable: 1, suppressed: 0, unusedSuppressions: [] });
  });

  it('reports paths relative to the current directory', async () => {
    const run = await runCli(['scan', '.', '--format', 'json'], project.path('lib'));
    expect(JSON.parse(run.stdout).findings.map((f: { file: string }) => f.file).sort()).toEqual(['my_app/application.ex', 'my_app/pool.ex', 'my_app/pool.ex']);
  });
});

describe('scan --format github', () => {
  it('prints one workflow command per finding with file, line, col and title', async () => {
    const run = await runCli(['scan', 'lib', '--format', 'github'], project.dir);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^::warning file=lib\/my_app\/application\.ex,line=8,endLine=8,col=7,endColumn=\d+,title=otpfix supervisor-max-children%3A Dynamic supervisor without max_children::DynamicSupervisor MyApp\.Sessions/,
    );
    // Medium findings are warnings.
    expect(lines.slice(1).every((l) => l.startsWith('::warning file=lib/my_app/pool.ex,'))).toBe(true);
    for (const line of lines) expect(line).not.toMatch(/[\r]/);
  });

  it('escapes per the GitHub rules', () => {
    expect(escapeData('100% done\r\nnext')).toBe('100%25 done%0D%0Anext');
    expect(escapeProperty('a:b,c%\n')).toBe('a%3Ab%2Cc%25%0A');
    // `::` in a message stays (only properties escape colons).
    expect(escapeData('a::b')).toBe('a::b');
  });

  it('escapes a file name with a comma and a colon', async () => {
    const odd = makeProject({ 'lib/a,b:c.ex': POOL });
    try {
      const run = await runCli(['scan', 'lib', '--format', 'github'], odd.dir);
      expect(run.stdout).toContain('file=lib/a%2Cb%3Ac.ex,line=3,');
    } finally {
      odd.remove();
    }
  });
});

describe('--quiet and --verbose', () => {
  it('--quiet prints the findings only: no summary, no warnings', async () => {
    const noisy = makeProject({ 'lib/pool.ex': POOL, 'lib/broken.ex': 'defmodule Broken do\n  def x( do\nend\n' });
    try {
      const normal = await runCli(['scan', 'lib'], noisy.dir);
      expect(normal.stdout).toMatch(/2 findings/);
      expect(normal.stderr).toMatch(/warning lib\/broken\.ex: syntax error/);
      const quiet = await runCli(['scan', 'lib', '--quiet'], noisy.dir);
      expect(quiet.code).toBe(1);
      expect(quiet.stdout).toContain('supervisor-max-children');
      expect(quiet.stdout).not.toMatch(/2 findings/);
      expect(quiet.stderr).toBe('');
    } finally {
      noisy.remove();
    }
  });

  it('--quiet still reports errors', async () => {
    const run = await runCli(['scan', 'nope', '--quiet'], project.dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('path does not exist');
  });

  it('--verbose prints per-file status with timings and the totals', async () => {
    const run = await runCli(['scan', 'lib', '--verbose'], project.dir);
    for (const f of ['application.ex', 'pool.ex', 'clean.ex']) expect(run.stderr).toMatch(new RegExp(`ok +lib/my_app/${f.replace('.', '\\.')} +parse \\d+\\.\\d ms, detect \\d+\\.\\d ms`));
    expect(run.stderr).toMatch(/lib\/my_app\/pool\.ex .*2 findings/);
    expect(run.stderr).toMatch(/lib\/my_app\/clean\.ex .*no findings/);
    expect(run.stderr).toMatch(/3 files: read\+parse [\d.]+ ms, detect [\d.]+ ms, total/);
    expect(run.stderr).toMatch(/config: none \(defaults\)/);
  });
});

describe('the built CLI as a child process', () => {
  it('prints plain text when piped and exits with the documented codes', () => {
    const run = spawnCli(['scan', 'lib'], project.dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('lib/my_app/pool.ex');
    expect(run.stdout).not.toMatch(/\x1b\[/);
    expect(run.stderr).toBe('');
    expect(spawnCli(['scan', 'lib/my_app/clean.ex'], project.dir).code).toBe(0);
    expect(spawnCli(['scan', 'missing'], project.dir).code).toBe(2);
  });

  it('colours when FORCE_COLOR is set and not when NO_COLOR is', () => {
    expect(spawnCli(['scan', 'lib'], project.dir, { FORCE_COLOR: '1' }).stdout).toMatch(/\x1b\[/);
    expect(spawnCli(['scan', 'lib'], project.dir, { NO_COLOR: '1' }).stdout).not.toMatch(/\x1b\[/);
  });
});
