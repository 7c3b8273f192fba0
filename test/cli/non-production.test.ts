/** Findings in tests, examples, benchmarks and docs: info and never rewritten by default (docs/severity.md). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeRole } from '../../src/core/roles.js';
import { APP, makeProject, runCli, type Project } from '../support/cli.js';

let project: Project;
beforeAll(() => {
  project = makeProject({
    'mix.exs': 'defmodule MyApp.MixProject do\n  use Mix.Project\nend\n',
    'lib/my_app/application.ex': APP,
    'test/support/app_case.ex': APP.replace(/MyApp\.Application/g, 'MyApp.TestApplication'),
    'examples/demo/lib/application.ex': APP.replace(/MyApp\.Application/g, 'Demo.Application'),
  });
});
afterAll(() => project.remove());

const findingsOf = async (args: string[]) => {
  const run = await runCli(['scan', ...args, '--format', 'json'], project.dir);
  return JSON.parse(run.stdout).findings as Array<{ file: string; severity: string; fixable: boolean; message: string }>;
};

describe('non-production code', () => {
  it('reports it as info, not fixable, and says why', async () => {
    const findings = await findingsOf(['.', '--rule', 'supervisor-max-children']);
    const prod = findings.find((f) => f.file === 'lib/my_app/application.ex')!;
    const test = findings.find((f) => f.file === 'test/support/app_case.ex')!;
    const example = findings.find((f) => f.file === 'examples/demo/lib/application.ex')!;
    expect(prod.severity).toBe('medium');
    expect(prod.fixable).toBe(true);
    expect(test).toMatchObject({ severity: 'info', fixable: false });
    expect(test.message).toContain('In test code: reported as info and not rewritten');
    expect(example).toMatchObject({ severity: 'info', fixable: false });
    expect(example.message).toContain('In example code');
  });

  it('never trips --fail-on by default, and is never rewritten', async () => {
    expect((await runCli(['scan', 'test', '--fail-on', 'low'], project.dir)).code).toBe(0);
    const fix = await runCli(['fix', 'test', 'examples', '--dry-run'], project.dir);
    expect(fix.stdout).toBe('');
  });

  it('--non-production full treats it as production code; off drops it; the config says the same', async () => {
    const full = await findingsOf(['test', '--non-production', 'full', '--rule', 'supervisor-max-children']);
    expect(full).toHaveLength(1);
    expect(full[0]).toMatchObject({ severity: 'medium', fixable: true });
    expect(await findingsOf(['test', '--non-production', 'off'])).toEqual([]);
    writeFileSync(path.join(project.dir, 'otpfix-full.json'), JSON.stringify({ nonProductionCode: 'full' }));
    const configured = await findingsOf(['test', '--config', 'otpfix-full.json', '--rule', 'supervisor-max-children']);
    expect(configured[0]).toMatchObject({ severity: 'medium' });
    writeFileSync(path.join(project.dir, 'otpfix-bad.json'), JSON.stringify({ nonProductionCode: 'sometimes' }));
    const bad = await runCli(['scan', 'test', '--config', 'otpfix-bad.json'], project.dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"nonProductionCode" must be one of info, full, off');
  });
});

describe('codeRole', () => {
  let dir: string;
  beforeAll(() => {
    // A project checked out under a directory named `test` is still production code.
    dir = mkdtempSync(path.join(tmpdir(), 'otpfix-roles-'));
    mkdirSync(path.join(dir, 'test', 'app', 'lib'), { recursive: true });
    writeFileSync(path.join(dir, 'test', 'app', 'mix.exs'), '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('judges a path inside its Mix project', () => {
    const inApp = (rel: string) => path.join(dir, 'test', 'app', rel);
    expect(codeRole(inApp('lib/a.ex'), 'test/app/lib/a.ex')).toBe('production');
    expect(codeRole(inApp('test/a_test.exs'), 'test/app/test/a_test.exs')).toBe('test');
    expect(codeRole(inApp('lib/a_test.ex'), 'x')).toBe('test');
    expect(codeRole(inApp('bench/run.exs'), 'x')).toBe('bench');
    expect(codeRole(inApp('guides/x.ex'), 'x')).toBe('docs');
  });

  it('without a Mix project, judges the path relative to the working directory', () => {
    expect(codeRole('/nowhere/x/lib/a.ex', 'lib/a.ex')).toBe('production');
    expect(codeRole('/nowhere/x/test/a.ex', 'test/a.ex')).toBe('test');
  });
});
