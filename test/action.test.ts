/**
 * The GitHub Action: action.yml is a composite action whose steps run action/run.sh; here the same
 * steps run locally on a fixture repository (no network), with the CLI of this checkout standing in
 * for the npm package: SARIF per shard with its own category, pull-request annotations and
 * fix --check limited to the changes, and a campaign pushing to a local bare remote.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as Sarif from 'sarif';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { APP, BIN, POOL } from './support/cli.js';
import { FIXTURES, ROOT } from './support/fixtures.js';
import { commitAll, git, gitEnv } from './support/git.js';

const SCRIPT = path.join(ROOT, 'action/run.sh');
let root: string;
let repo: string;

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'otpfix-action-'));
  repo = path.join(root, 'repo');
  mkdirSync(path.join(repo, 'lib'), { recursive: true });
  git(repo, 'init', '--quiet');
  writeFileSync(path.join(repo, 'lib/pool.ex'), POOL);
  commitAll(repo, 'base');
  git(repo, 'checkout', '--quiet', '-b', 'feature');
  writeFileSync(path.join(repo, 'lib/app.ex'), APP);
  commitAll(repo, 'the pull request');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface StepRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

function step(name: string, inputs: Record<string, string>, cwd = repo, extraEnv: NodeJS.ProcessEnv = {}): StepRun {
  const dir = mkdtempSync(path.join(root, 'step-'));
  const outputFile = path.join(dir, 'output');
  const summaryFile = path.join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: NodeJS.ProcessEnv = { ...gitEnv(), OTPFIX_CMD: `${process.execPath} ${BIN}`, GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: summaryFile, ...extraEnv };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase().replace(/-/g, '_')}`] = v;
  const run = spawnSync('bash', [SCRIPT, name], { cwd, env, encoding: 'utf8', timeout: 90_000 });
  const outputs = Object.fromEntries(
    readFileSync(outputFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr, outputs, summary: readFileSync(summaryFile, 'utf8') };
}

describe('action.yml', () => {
  const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8'));
  const script = readFileSync(SCRIPT, 'utf8');

  it('is a composite action whose run steps are steps of action/run.sh, fed by declared inputs', () => {
    expect(action.runs.using).toBe('composite');
    const runSteps = action.runs.steps.filter((s: { run?: string }) => s.run);
    expect(runSteps.length).toBe(4);
    for (const s of runSteps) {
      const name = /run\.sh" (\w+)$/.exec(s.run)?.[1];
      expect(name && script.includes(`\n  ${name})`), s.run).toBe(true);
      for (const value of Object.values(s.env ?? {}) as string[]) {
        const input = /inputs\.([\w-]+)/.exec(value)?.[1];
        if (input) expect(action.inputs[input], input).toBeDefined();
      }
    }
    const upload = action.runs.steps.find((s: { uses?: string }) => s.uses?.startsWith('github/codeql-action/upload-sarif'));
    expect(upload.with.category).toBe('${{ steps.scan.outputs.category }}');
    // The campaign state is saved whatever the campaign's outcome (a failed or cancelled run resumes).
    const save = action.runs.steps.find((s: { uses?: string }) => s.uses?.startsWith('actions/cache/save'));
    expect(save.if).toMatch(/^always\(\)/);
    expect(save.with.path).toBe('${{ inputs.state }}');
  });

  it('install: uses the given command instead of npm when OTPFIX_CMD is set', () => {
    const run = step('install', {});
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\d+\.\d+\.\d+/);
  });

  it('scan: one SARIF file and one code-scanning category per shard, together every finding', () => {
    const whole = step('scan', { 'sarif-file': path.join(root, 'all.sarif') });
    expect(whole.code, whole.stderr).toBe(0);
    expect(whole.outputs.category).toBe('otpfix');
    const total = Number(whole.outputs.findings);
    expect(total).toBe(3);
    let sum = 0;
    for (const i of [1, 2]) {
      const run = step('scan', { shard: `${i}/2`, 'sarif-file': path.join(root, `shard-${i}.sarif`) });
      expect(run.code, run.stderr).toBe(0);
      expect(run.outputs.category).toBe(`otpfix-shard-${i}-of-2`);
      const log = JSON.parse(readFileSync(run.outputs['sarif-file'], 'utf8')) as Sarif.Log;
      expect(log.version).toBe('2.1.0');
      expect(log.runs[0].results!.length).toBe(Number(run.outputs.findings));
      sum += Number(run.outputs.findings);
      expect(run.summary).toContain(`otpfix: ${run.outputs.findings} finding(s) (otpfix-shard-${i}-of-2)`);
    }
    expect(sum).toBe(total);
    // fail-on makes the step fail when findings at that level exist, after writing the report.
    const failing = step('scan', { 'sarif-file': path.join(root, 'x.sarif'), 'fail-on': 'low' });
    expect(failing.code).toBe(1);
    expect(failing.outputs.findings).toBe('3');
    expect(step('scan', { 'sarif-file': path.join(root, 'x.sarif'), 'fail-on': 'critical' }).code).toBe(2);
  }, 240_000);

  it('gate: annotations and fix --check for what the pull request changed only', () => {
    const run = step('gate', { 'base-ref': 'main' });
    expect(run.code).toBe(1);
    const annotations = run.stdout.split('\n').filter((l) => l.startsWith('::'));
    expect(annotations.length).toBe(1);
    expect(annotations[0]).toMatch(/^::(error|warning) file=lib\/app\.ex,line=\d+/);
    expect(run.outputs['scan-status']).toBe('1');
    expect(run.outputs['check-status']).toBe('1');
    expect(run.summary).toContain('would rewrite code');

    // Without a base ref the whole project is checked; GITHUB_BASE_REF supplies one on pull requests.
    const all = step('gate', {});
    expect(all.stdout.split('\n').filter((l) => l.startsWith('::')).length).toBe(3);
    git(repo, 'update-ref', 'refs/remotes/origin/main', 'main');
    const viaEnv = spawnSync('bash', [SCRIPT, 'gate'], {
      cwd: repo,
      env: { ...gitEnv(), OTPFIX_CMD: `${process.execPath} ${BIN}`, GITHUB_BASE_REF: 'main' },
      encoding: 'utf8',
    });
    expect(viaEnv.stdout.split('\n').filter((l) => l.startsWith('::')).length).toBe(1);
  }, 240_000);

  it('campaign: pushes branches to each listed remote and writes the table to the job summary', () => {
    const source = path.join(root, 'source');
    mkdirSync(path.join(source, 'lib'), { recursive: true });
    git(source, 'init', '--quiet');
    copyFileSync(path.join(FIXTURES, 'before/supervisor-max-children/application-children.ex'), path.join(source, 'lib/application.ex'));
    commitAll(source, 'initial');
    const bare = path.join(root, 'upstream.git');
    git(root, 'clone', '--quiet', '--bare', source, bare);
    writeFileSync(path.join(root, 'repos.txt'), `file://${bare}\n${path.join(root, 'no-such-repo')}\n`);
    // A runner's git has no identity: the step commits as github-actions[bot].
    const noIdentity = path.join(root, 'empty-gitconfig');
    writeFileSync(noIdentity, '[init]\n\tdefaultBranch = main\n');
    const run = step(
      'campaign',
      { repos: path.join(root, 'repos.txt'), 'open-pr': 'false', state: path.join(root, 'state.json'), 'report-file': path.join(root, 'campaign.json') },
      root,
      { GIT_CONFIG_GLOBAL: noIdentity },
    );
    expect(git(bare, 'log', '-1', '--format=%an <%ae>', 'otpfix/supervisor-max-children')).toBe(
      'github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>',
    );
    expect(run.code).toBe(1);
    expect(git(bare, 'branch', '--list', 'otpfix/*')).toContain('otpfix/supervisor-max-children');
    const report = JSON.parse(readFileSync(run.outputs.report, 'utf8'));
    expect(report.summary).toMatchObject({ repositories: 2, ok: 1, failed: 1 });
    expect(run.summary).toContain('| repository | status | branches | pull requests | failure |');
    expect(run.summary).toMatch(/\| file:\/\/.*upstream\.git \| ok \| otpfix\/supervisor-max-children \| - \|/);
    expect(run.summary).toMatch(/no-such-repo \| failed \| - \| - \| no such directory/);
    expect(JSON.parse(readFileSync(path.join(root, 'state.json'), 'utf8')).repos[`file://${bare}`].status).toBe('ok');
  }, 120_000);
});
