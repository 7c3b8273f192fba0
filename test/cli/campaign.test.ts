/**
 * `otpfix pr --repos` as a campaign: a bounded number of repositories at once, a state file that a
 * rerun resumes from (a campaign killed midway neither redoes nor loses work), one failing
 * repository never stopping the rest, a final table (text and JSON), and shards of the list.
 * Real git, local repositories and a bare remote; no network.
 */
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardEntries } from '../../src/cli/review/repos.js';
import { BIN, spawnCli } from '../support/cli.js';
import { FIXTURES } from '../support/fixtures.js';
import { commitAll, git, gitEnv } from '../support/git.js';

const RULE = 'supervisor-max-children';
const BRANCH = `otpfix/${RULE}`;
let root: string;

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'otpfix-campaign-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A repository with one fixable finding; with `gate`, its commit hook waits until `gate` exists. */
function makeRepo(name: string, gate?: string): string {
  const dir = path.join(root, name);
  mkdirSync(path.join(dir, 'lib'), { recursive: true });
  git(dir, 'init', '--quiet');
  copyFileSync(path.join(FIXTURES, 'before', RULE, 'application-children.ex'), path.join(dir, 'lib/application.ex'));
  commitAll(dir, 'initial');
  if (gate) {
    const hook = path.join(dir, '.git/hooks/pre-commit');
    writeFileSync(hook, `#!/bin/sh\nwhile [ ! -e '${gate}' ]; do sleep 0.05; done\n`);
    chmodSync(hook, 0o755);
  }
  return dir;
}

interface Row {
  repository: string;
  status: string;
  branches: string[];
  pullRequests: string[];
  failure?: string;
  earlierRun?: boolean;
}

const readState = (file: string): Record<string, { status: string }> =>
  existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).repos : {};

async function waitFor(what: string, ok: () => boolean, ms = 45_000): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('pr --repos campaigns', () => {
  it('a campaign killed midway resumes without redoing or losing work; the bound holds', async () => {
    const gate = path.join(root, 'release');
    makeRepo('one');
    makeRepo('two', gate);
    makeRepo('three', gate);
    makeRepo('four');
    const list = path.join(root, 'repos.txt');
    writeFileSync(list, ['one', 'two', 'three', 'missing', 'four'].join('\n'));
    const stateFile = path.join(root, 'state.json');
    const args = [BIN, 'pr', '--repos', list, '--state', stateFile, '--concurrency', '2', '--format', 'json'];

    // Run 1: "one" finishes, "two" and "three" hang in their commit hooks, filling both slots.
    const child = spawn(process.execPath, args, { cwd: root, env: gitEnv(), detached: true, stdio: 'ignore' });
    try {
      await waitFor('one done, two and three started', () => {
        const s = readState(stateFile);
        return s.one?.status === 'ok' && s.two?.status === 'started' && s.three?.status === 'started';
      });
      await new Promise((r) => setTimeout(r, 500));
      // Two at once, no more: the rest of the list has not been started.
      expect(Object.keys(readState(stateFile)).sort()).toEqual(['one', 'three', 'two']);
    } finally {
      // Killed hard, with its git and hook processes (its process group): no chance to clean up.
      process.kill(-child.pid!, 'SIGKILL');
    }
    const oneCommit = git(path.join(root, 'one'), 'rev-parse', BRANCH);

    // Run 2 resumes: "one" is not redone, the interrupted ones are finished, "missing" fails alone.
    writeFileSync(gate, '');
    const second = spawnCli(args.slice(1), root, gitEnv());
    expect(second.code, second.stderr).toBe(1);
    const rows = JSON.parse(second.stdout).repositories as Row[];
    expect(rows.map((r) => [r.repository, r.status])).toEqual([
      ['one', 'ok'],
      ['two', 'ok'],
      ['three', 'ok'],
      ['missing', 'failed'],
      ['four', 'ok'],
    ]);
    expect(rows[0].earlierRun).toBe(true);
    expect(rows[0].branches).toEqual([BRANCH]);
    expect(rows.slice(1).some((r) => r.earlierRun)).toBe(false);
    expect(rows[3].failure).toMatch(/no such directory/);
    expect(second.stderr).toMatch(/\[1\/5\] ok +one: 1 branch .*done in an earlier run; not redone/);
    expect(git(path.join(root, 'one'), 'rev-parse', BRANCH)).toBe(oneCommit);
    for (const name of ['two', 'three', 'four']) expect(git(path.join(root, name), 'log', '-1', '--format=%s', BRANCH)).toMatch(/^otpfix\(/);
    expect(JSON.parse(second.stdout).summary).toMatchObject({ repositories: 5, ok: 4, failed: 1, earlier: 1, branches: 4 });

    // Run 3: everything done is skipped (same commits); only the failed repository is tried again.
    const commits = ['two', 'three', 'four'].map((n) => git(path.join(root, n), 'rev-parse', BRANCH));
    const third = spawnCli(args.slice(1).filter((a) => a !== 'json' && a !== '--format'), root, gitEnv());
    expect(third.code).toBe(1);
    expect(['two', 'three', 'four'].map((n) => git(path.join(root, n), 'rev-parse', BRANCH))).toEqual(commits);
    expect(third.stdout).toMatch(/^repository +status +branches +pull requests +failure$/m);
    expect(third.stdout).toMatch(new RegExp(`^one +ok +${BRANCH} +-$`, 'm'));
    expect(third.stdout).toMatch(/^missing +failed +- +- +no such directory: /m);
    expect(third.stdout).toContain('5 repositories: 4 ok, 0 without changes, 1 failed (4 done in an earlier run); 4 branches, 0 pull requests.');
  }, 120_000);

  it('a rerun replaces the branches an earlier failed run made, and still refuses anyone else\'s', () => {
    const ours = makeRepo('ours');
    const theirs = makeRepo('theirs');
    for (const dir of [ours, theirs]) git(dir, 'branch', BRANCH);
    const stateFile = path.join(root, 'state-failed.json');
    const head = git(ours, 'rev-parse', 'HEAD');
    writeFileSync(
      stateFile,
      JSON.stringify({ version: 1, repos: { ours: { status: 'failed', branches: [{ branch: BRANCH, commit: head }], reason: 'push failed', at: '' } } }),
    );
    const list = path.join(root, 'failed.txt');
    writeFileSync(list, 'ours\ntheirs\n');
    const run = spawnCli(['pr', '--repos', list, '--state', stateFile, '--format', 'json'], root, gitEnv());
    const rows = JSON.parse(run.stdout).repositories as Row[];
    expect(rows.map((r) => r.status)).toEqual(['ok', 'failed']);
    expect(git(ours, 'rev-parse', BRANCH)).not.toBe(head);
    expect(rows[1].failure).toContain('already exists');
    expect(git(theirs, 'rev-parse', BRANCH)).toBe(git(theirs, 'rev-parse', 'HEAD'));
  }, 120_000);

  it('shards split the list by position: disjoint and complete', () => {
    const list = Array.from({ length: 11 }, (_, i) => `repo${i}`);
    for (const n of [1, 2, 3, 4, 11, 12]) {
      const parts = Array.from({ length: n }, (_, i) => shardEntries(list, { index: i + 1, count: n }));
      expect(parts.flat().sort()).toEqual([...list].sort());
      expect(new Set(parts.flat()).size).toBe(list.length);
    }
  });

  it('rejects campaign options without --repos and a bad --concurrency or state file', () => {
    const dir = makeRepo('lonely');
    expect(spawnCli(['pr', '--state', 's.json'], dir, gitEnv()).stderr).toContain('--state works with --repos');
    writeFileSync(path.join(root, 'lonely.txt'), 'lonely\n');
    const bad = spawnCli(['pr', '--repos', path.join(root, 'lonely.txt'), '--concurrency', '0'], root, gitEnv());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--concurrency must be a whole number');
    writeFileSync(path.join(root, 'bad-state.json'), '[]');
    const state = spawnCli(['pr', '--repos', path.join(root, 'lonely.txt'), '--state', path.join(root, 'bad-state.json')], root, gitEnv());
    expect(state.code).toBe(2);
    expect(state.stderr).toContain('not an otpfix campaign state');
  });
});
