/**
 * `otpfix pr` against real git: temporary repositories holding fixture files, a local bare remote,
 * and a fake `gh` on PATH. Every run also checks that the user's checkout (HEAD, branch, index,
 * work tree) is exactly as it was.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/output.js';
import { Git, Scratch } from '../../src/cli/review/git.js';
import { followLine, refSafe } from '../../src/cli/review/pr.js';
import { readRepoList } from '../../src/cli/review/repos.js';
import { commitMessage, prBody, prTitle, type BranchReport, type RuleInfo } from '../../src/cli/review/pr-text.js';
import { FIXTURES, ROOT } from '../support/fixtures.js';

const RULE = 'supervisor-max-children';
const before = (name: string) => path.join(FIXTURES, 'before', RULE, `${name}.ex`);
const after = (name: string) => readFileSync(path.join(FIXTURES, 'after', RULE, `${name}.ex`), 'utf8');

/** Repository path → fixture case. Two files with fixes, one already limited. */
const FILES: Record<string, string> = {
  'lib/shop/application.ex': 'application-children',
  'lib/chat/room_supervisor.ex': 'use-dynamic-supervisor',
  'lib/billing/application.ex': 'valid-limited',
};
const BRANCH = `otpfix/${RULE}`;

let root: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'otpfix-pr-test-'));
  // Git reads no personal config: a fixed identity, no signing, no hooks from the machine.
  const gitconfig = path.join(root, 'gitconfig');
  writeFileSync(gitconfig, '[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n');
  env = { ...process.env, GIT_CONFIG_GLOBAL: gitconfig, GIT_CONFIG_NOSYSTEM: '1', NO_COLOR: '1' };
  delete env.FORCE_COLOR;
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { env, encoding: 'utf8' }).replace(/\n$/, '');
}

let counter = 0;
function makeRepo(files: Record<string, string> = FILES, name = `repo${counter++}`): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '--quiet');
  for (const [rel, fixture] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    copyFileSync(before(fixture), path.join(dir, rel));
  }
  git(dir, 'add', '.');
  git(dir, 'commit', '--quiet', '-m', 'initial');
  return dir;
}

/** Everything about the user's checkout that otpfix pr must leave alone. */
function checkoutState(dir: string) {
  const index = createHash('sha1').update(readFileSync(path.join(dir, '.git/index'))).digest('hex');
  const tree = Object.fromEntries(
    Object.keys(FILES)
      .filter((f) => existsSync(path.join(dir, f)))
      .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
  );
  return {
    head: git(dir, 'rev-parse', 'HEAD'),
    symbolic: git(dir, 'rev-parse', '--abbrev-ref', 'HEAD'),
    // --no-optional-locks: our own status must not refresh the index we are hashing.
    status: git(dir, '--no-optional-locks', 'status', '--porcelain'),
    staged: git(dir, '--no-optional-locks', 'diff', '--cached'),
    index,
    tree,
    worktrees: git(dir, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree ')),
  };
}

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Run the CLI in-process from `cwd`, with `extraEnv` (e.g. PATH) in the environment. */
async function otpfix(cwd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), stdout: process.stdout, stderr: process.stderr };
  const savedEnv = process.env;
  const savedCwd = process.cwd();
  process.env = { ...env, ...extraEnv };
  process.chdir(cwd);
  try {
    const code = await main(['pr', ...args], io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    process.chdir(savedCwd);
    process.env = savedEnv;
  }
}

const show = (dir: string, ref: string, file: string) => git(dir, 'show', `${ref}:${file}`) + '\n';
const branches = (dir: string) => git(dir, 'for-each-ref', '--format=%(refname:short)', 'refs/heads/').split('\n').sort();
const changedOn = (dir: string, branch: string) => git(dir, 'diff', '--name-only', `${branch}^`, branch).split('\n').filter(Boolean).sort();

describe('otpfix pr', () => {
  it('makes one branch per rule from HEAD, with a commit, a body file and the checkout untouched', async () => {
    const repo = makeRepo();
    const bodies = path.join(root, 'bodies-rule');
    const state = checkoutState(repo);
    const run = await otpfix(repo, ['--body-dir', bodies]);
    expect(run.code, run.err).toBe(0);
    expect(checkoutState(repo)).toEqual(state);

    expect(branches(repo)).toEqual(['main', BRANCH].sort());
    expect(git(repo, 'rev-parse', `${BRANCH}^`)).toBe(state.head);
    expect(changedOn(repo, BRANCH)).toEqual(['lib/chat/room_supervisor.ex', 'lib/shop/application.ex']);
    expect(show(repo, BRANCH, 'lib/shop/application.ex')).toBe(after('application-children'));
    expect(show(repo, BRANCH, 'lib/chat/room_supervisor.ex')).toBe(after('use-dynamic-supervisor'));

    const message = git(repo, 'log', '-1', '--format=%B', BRANCH);
    expect(message.split('\n')[0]).toBe(`otpfix(${RULE}): 3 fixes in 2 files`);
    expect(message).toContain(`- ${RULE}: Dynamic supervisor without max_children (3 fixes)`);
    expect(message).toContain('Files:\n- lib/chat/room_supervisor.ex\n- lib/shop/application.ex\n');

    const bodyFile = path.join(bodies, `otpfix-${RULE}.md`);
    const body = readFileSync(bodyFile, 'utf8');
    for (const section of ['## What', '## Why', '## How it was verified', '## Changes', '## Risks'])
      expect(body, section).toContain(section);
    expect(body).toContain('{:error, :max_children}');
    expect(body).toContain('`maxChildren: 1000` (default)');
    // The findings' messages are the "why"; the call sites they name are in it.
    expect(body).toContain('Children are started at lib/shop/application.ex:25');
    // Each listed change points at a line of the branch's file that now carries the limit.
    const listed = [...body.split('## Changes')[1].matchAll(/^- `([^`:]+):(\d+)`/gm)];
    expect(listed).toHaveLength(3);
    for (const [, file, line] of listed) expect(show(repo, BRANCH, file).split('\n')[Number(line) - 1]).toContain('max_children');
    // Printed too, with the title.
    expect(run.out).toContain('title: otpfix: Dynamic supervisor without max_children');
    expect(run.out).toContain(body.trim());
  });

  it('refuses an existing branch unless --force, and never rewrites the branch checked out', async () => {
    const repo = makeRepo();
    expect((await otpfix(repo, [])).code).toBe(0);
    const first = git(repo, 'rev-parse', BRANCH);
    const again = await otpfix(repo, []);
    expect(again.code).toBe(2);
    expect(again.err).toContain(`already exists: ${BRANCH}`);
    expect(again.err).toContain('--force');
    expect(git(repo, 'rev-parse', BRANCH)).toBe(first);

    git(repo, 'commit', '--quiet', '--allow-empty', '-m', 'later');
    const forced = await otpfix(repo, ['--force']);
    expect(forced.code, forced.err).toBe(0);
    expect(git(repo, 'rev-parse', `${BRANCH}^`)).toBe(git(repo, 'rev-parse', 'HEAD'));

    git(repo, 'switch', '--quiet', BRANCH);
    git(repo, 'reset', '--quiet', '--hard', 'main');
    const onIt = await otpfix(repo, ['--force']);
    expect(onIt.code).toBe(2);
    expect(onIt.err).toContain('is your current branch');
  });

  it('refuses a dirty tree; with --allow-dirty works from HEAD and leaves the uncommitted changes alone', async () => {
    const repo = makeRepo();
    const file = path.join(repo, 'lib/shop/application.ex');
    writeFileSync(file, readFileSync(file, 'utf8') + '\n# work in progress\n');
    writeFileSync(path.join(repo, 'lib/chat/room_supervisor.ex'), '# staged rewrite\n');
    git(repo, 'add', 'lib/chat/room_supervisor.ex');
    writeFileSync(path.join(repo, 'notes.txt'), 'untracked\n');
    const state = checkoutState(repo);

    const refused = await otpfix(repo, []);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/has uncommitted changes \(2 files\)/);
    expect(refused.err).toContain('--allow-dirty');
    expect(branches(repo)).toEqual(['main']);

    const run = await otpfix(repo, ['--allow-dirty']);
    expect(run.code, run.err).toBe(0);
    expect(run.err).toContain('made from HEAD');
    expect(checkoutState(repo)).toEqual(state);
    // The branch holds HEAD's files fixed, not the dirty ones.
    expect(show(repo, BRANCH, 'lib/shop/application.ex')).toBe(after('application-children'));
    expect(show(repo, BRANCH, 'lib/chat/room_supervisor.ex')).toBe(after('use-dynamic-supervisor'));
  });

  it('--group file makes one branch per file (custom prefix); --group all makes one', async () => {
    const repo = makeRepo();
    const state = checkoutState(repo);
    const run = await otpfix(repo, ['--group', 'file', '--branch-prefix', 'bot/fix-']);
    expect(run.code, run.err).toBe(0);
    expect(branches(repo)).toEqual(['bot/fix-lib-chat-room_supervisor.ex', 'bot/fix-lib-shop-application.ex', 'main']);
    expect(changedOn(repo, 'bot/fix-lib-shop-application.ex')).toEqual(['lib/shop/application.ex']);
    expect(changedOn(repo, 'bot/fix-lib-chat-room_supervisor.ex')).toEqual(['lib/chat/room_supervisor.ex']);
    expect(show(repo, 'bot/fix-lib-shop-application.ex', 'lib/shop/application.ex')).toBe(after('application-children'));
    expect(git(repo, 'log', '-1', '--format=%s', 'bot/fix-lib-shop-application.ex')).toBe(`otpfix(${RULE}): 2 fixes in lib/shop/application.ex`);
    expect(run.out).toContain(`title: otpfix: Dynamic supervisor without max_children in lib/chat/room_supervisor.ex`);

    const all = await otpfix(repo, ['--group', 'all']);
    expect(all.code, all.err).toBe(0);
    expect(changedOn(repo, 'otpfix/all')).toEqual(['lib/chat/room_supervisor.ex', 'lib/shop/application.ex']);
    expect(show(repo, 'otpfix/all', 'lib/chat/room_supervisor.ex')).toBe(after('use-dynamic-supervisor'));
    expect(checkoutState(repo)).toEqual(state);
  });

  it('limits the run to the given paths', async () => {
    const repo = makeRepo();
    const run = await otpfix(path.join(repo, 'lib'), ['chat']);
    expect(run.code, run.err).toBe(0);
    expect(changedOn(repo, BRANCH)).toEqual(['lib/chat/room_supervisor.ex']);
  });

  it('says "no changes" when there is nothing to rewrite, and makes no branch', async () => {
    const repo = makeRepo({ 'lib/billing.ex': 'valid-limited' });
    const run = await otpfix(repo, []);
    expect(run.code).toBe(0);
    expect(run.err).toContain('no changes');
    expect(branches(repo)).toEqual(['main']);
  });

  it("runs git's commit hooks (a failing hook fails that branch only) unless --no-verify", async () => {
    const repo = makeRepo();
    const hook = path.join(repo, '.git/hooks/pre-commit');
    writeFileSync(hook, '#!/bin/sh\necho "refusing: $(git diff --cached --name-only | tr \'\\n\' \' \')" >&2\nexit 1\n');
    chmodSync(hook, 0o755);
    const state = checkoutState(repo);
    const failing = await otpfix(repo, ['--group', 'file']);
    expect(failing.code).toBe(1);
    expect(failing.err).toMatch(/failed otpfix\/lib-shop-application\.ex: git commit failed: refusing: lib\/shop\/application\.ex/);
    expect(failing.err).toMatch(/failed otpfix\/lib-chat-room_supervisor\.ex: git commit failed/);
    expect(branches(repo)).toEqual(['main']);
    expect(checkoutState(repo)).toEqual(state);

    const skipped = await otpfix(repo, ['--group', 'file', '--no-verify']);
    expect(skipped.code, skipped.err).toBe(0);
    expect(branches(repo)).toHaveLength(3);
  });

  it('an interrupt (SIGINT) removes the temporary worktrees and leaves the checkout as it was', async () => {
    const repo = makeRepo();
    const marker = path.join(root, `hook-started${counter++}`);
    const hook = path.join(repo, '.git/hooks/pre-commit');
    writeFileSync(hook, `#!/bin/sh\ntouch "${marker}"\nsleep 5\n`);
    chmodSync(hook, 0o755);
    const state = checkoutState(repo);
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm')).href;
    const child = spawn(process.execPath, ['--import', tsx, path.join(ROOT, 'src/cli/main.ts'), 'pr'], {
      cwd: repo,
      env: { ...env, OTPFIX_BIN: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait until the run is inside `git commit` in its worktree, then interrupt it.
    for (let i = 0; i < 300 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(marker), `the commit hook never ran: ${stderr}`).toBe(true);
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(2);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('interrupted (SIGINT); temporary worktrees removed');
    expect(checkoutState(repo)).toEqual(state);
    expect(branches(repo)).toEqual(['main']);
  });

  it('rejects an unknown rule before touching any repository', async () => {
    const run = await otpfix(root, ['--rule', 'no-such-rule', '--repos', '/nonexistent/list']);
    expect(run.code).toBe(2);
    expect(run.err).toContain('unknown rule "no-such-rule"');
  });

  it('--push pushes every branch to a local bare remote', async () => {
    const repo = makeRepo();
    const remote = path.join(root, `remote${counter++}.git`);
    git(root, 'init', '--quiet', '--bare', remote);
    git(repo, 'remote', 'add', 'origin', remote);
    const run = await otpfix(repo, ['--group', 'file', '--push', 'origin']);
    expect(run.code, run.err).toBe(0);
    const remoteRefs = git(remote, 'for-each-ref', '--format=%(refname:short) %(objectname)', 'refs/heads/').split('\n').sort();
    expect(remoteRefs).toEqual(
      ['otpfix/lib-chat-room_supervisor.ex', 'otpfix/lib-shop-application.ex'].map((b) => `${b} ${git(repo, 'rev-parse', b)}`),
    );

    // A push that fails (unknown remote) is reported per branch; the branch itself stays.
    const bad = await otpfix(repo, ['--group', 'file', '--force', '--push', 'nowhere']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/otpfix\/lib-shop-application\.ex: push to nowhere failed/);
  });

  it('--open-pr runs gh pr create per pushed branch, and refuses to start when gh is missing', async () => {
    const repo = makeRepo();
    const remote = path.join(root, `remote${counter++}.git`);
    git(root, 'init', '--quiet', '--bare', remote);
    git(repo, 'remote', 'add', 'origin', remote);
    const fakeBin = path.join(root, `fakebin${counter++}`);
    mkdirSync(fakeBin);
    const log = path.join(fakeBin, 'gh.log');
    writeFileSync(
      path.join(fakeBin, 'gh'),
      `#!/bin/sh
printf '%s\\n' "$@" > "${log}"
while [ $# -gt 0 ]; do [ "$1" = "--body-file" ] && cp "$2" "${log}.body"; shift; done
echo "https://github.example/acme/shop/pull/7"
`,
    );
    chmodSync(path.join(fakeBin, 'gh'), 0o755);
    const bodies = path.join(root, `bodies${counter++}`);
    const run = await otpfix(repo, ['--push', 'origin', '--open-pr', '--body-dir', bodies], { PATH: `${fakeBin}${path.delimiter}${env.PATH}` });
    expect(run.code, run.err).toBe(0);
    const args = readFileSync(log, 'utf8').split('\n');
    expect(args.slice(0, 2)).toEqual(['pr', 'create']);
    expect(args[args.indexOf('--title') + 1]).toBe('otpfix: Dynamic supervisor without max_children');
    expect(args[args.indexOf('--base') + 1]).toBe('main');
    expect(args[args.indexOf('--head') + 1]).toBe(BRANCH);
    expect(readFileSync(`${log}.body`, 'utf8')).toBe(readFileSync(path.join(bodies, `otpfix-${RULE}.md`), 'utf8'));
    expect(run.err).toContain(`opened pull request for ${BRANCH}: https://github.example/acme/shop/pull/7`);

    // No gh on PATH (only git): refused before anything is made or pushed, not a silent success.
    const gitOnly = path.join(root, `gitonly${counter++}`);
    mkdirSync(gitOnly);
    symlinkSync(execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim(), path.join(gitOnly, 'git'));
    const noGh = await otpfix(repo, ['--branch-prefix', 'nogh/', '--push', 'origin', '--open-pr'], { PATH: gitOnly });
    expect(noGh.code, noGh.err).toBe(3);
    expect(noGh.err).toContain('otpfix: --open-pr needs gh (the GitHub CLI), which is not on PATH; nothing was made or pushed');
    expect(git(repo, 'branch', '--list', 'nogh/*')).toBe('');
    expect(git(remote, 'branch', '--list', 'nogh/*')).toBe('');

    // gh fails (e.g. not logged in): reported for the branch, exit 1, the rest of the run done.
    writeFileSync(path.join(fakeBin, 'gh'), '#!/bin/sh\necho "To get started with GitHub CLI, please run:  gh auth login" >&2\nexit 4\n');
    const ghFails = await otpfix(repo, ['--force', '--push', 'origin', '--open-pr'], { PATH: `${fakeBin}${path.delimiter}${env.PATH}` });
    expect(ghFails.code).toBe(1);
    expect(ghFails.err).toContain(`failed ${BRANCH}: gh pr create failed: To get started with GitHub CLI`);
    expect(ghFails.err).toContain(`pushed ${BRANCH} to origin`);

    const noPush = await otpfix(repo, ['--force', '--open-pr']);
    expect(noPush.code).toBe(2);
    expect(noPush.err).toContain('--push');
  });

  it('works from a detached HEAD, and needs --base to open pull requests from one', async () => {
    const repo = makeRepo();
    git(repo, 'checkout', '--quiet', '--detach');
    const state = checkoutState(repo);
    const run = await otpfix(repo, []);
    expect(run.code, run.err).toBe(0);
    expect(run.err).toContain('HEAD is detached');
    expect(checkoutState(repo)).toEqual(state);
    expect(git(repo, 'rev-parse', `${BRANCH}^`)).toBe(state.head);

    const open = await otpfix(repo, ['--force', '--push', 'origin', '--open-pr']);
    expect(open.code).toBe(2);
    expect(open.err).toContain('--base');
  });

  it('explains a missing repository and a missing git', async () => {
    const plain = path.join(root, `plain${counter++}`);
    mkdirSync(plain);
    const notRepo = await otpfix(plain, []);
    expect(notRepo.code).toBe(2);
    expect(notRepo.err).toContain('not a git repository');

    const emptyBin = path.join(root, `emptybin${counter++}`);
    mkdirSync(emptyBin);
    const noGit = await otpfix(plain, [], { PATH: emptyBin });
    expect(noGit.code).toBe(3);
    expect(noGit.err).toContain('git is not installed or not on PATH');
  });

  it('--repos runs over local paths and clone URLs; one failing repository does not stop the others', async () => {
    const good = makeRepo(FILES, 'fleet/good');
    const clean = makeRepo({ 'lib/billing.ex': 'valid-limited' }, 'fleet/clean');
    // A bare repository reached by URL: cloned, then branched in the clone.
    const source = makeRepo({ 'lib/chat/room_supervisor.ex': 'use-dynamic-supervisor' }, 'fleet/source');
    const bare = path.join(root, 'fleet/upstream.git');
    git(root, 'clone', '--quiet', '--bare', source, bare);
    const list = path.join(root, 'fleet/repos.txt');
    writeFileSync(list, ['# the fleet', 'good', '', `file://${bare}   # cloned`, 'missing-repo', 'clean'].join('\n'));
    const clones = path.join(root, 'fleet/clones');
    const bodies = path.join(root, 'fleet/bodies');
    const state = checkoutState(good);

    const run = await otpfix(root, ['--repos', list, '--clone-dir', clones, '--body-dir', bodies]);
    expect(run.code).toBe(1);
    const status = run.out.split('\n').filter((l) => /^\[\d\/4\] /.test(l));
    expect(status).toHaveLength(4);
    expect(status[0]).toMatch(new RegExp(`^\\[1/4\\] ok +good: 1 branch \\(${BRANCH}\\)$`));
    expect(status[1]).toMatch(/^\[2\/4\] ok +file:\/\/.*upstream\.git: 1 branch .*the clone is kept: /);
    expect(status[2]).toMatch(/^\[3\/4\] failed +missing-repo: no such directory: /);
    expect(status[3]).toMatch(/^\[4\/4\] no changes clean$/);
    expect(run.out).toContain('4 repositories: 2 ok, 1 without changes, 1 failed; 2 branches, 0 pull requests.');
    expect(run.out).toMatch(/^repository +status +branches +pull requests +failure$/m);
    expect(run.out).toMatch(/^missing-repo +failed +- +- +no such directory: /m);

    expect(checkoutState(good)).toEqual(state);
    expect(branches(good)).toEqual(['main', BRANCH].sort());
    expect(branches(clean)).toEqual(['main']);
    const clone = path.join(clones, 'upstream');
    expect(show(clone, BRANCH, 'lib/chat/room_supervisor.ex')).toBe(after('use-dynamic-supervisor'));
    expect(readdirSync(bodies).sort()).toEqual(['good', 'upstream']);
    expect(existsSync(path.join(bodies, 'good', `otpfix-${RULE}.md`))).toBe(true);

    // With --push, a cloned repository's branch lands upstream and the clone is not kept.
    const urlOnly = path.join(root, 'fleet/url-only.txt');
    writeFileSync(urlOnly, `file://${bare}\n`);
    const pushed = await otpfix(root, ['--repos', urlOnly, '--clone-dir', path.join(root, 'fleet/clones2'), '--push', 'origin']);
    expect(pushed.code, pushed.err).toBe(0);
    expect(pushed.out).toMatch(new RegExp(`^\\[1/1\\] ok +file://.*upstream\\.git: 1 branch \\(${BRANCH}\\)$`, 'm'));
    expect(git(bare, 'log', '-1', '--format=%s', BRANCH)).toBe(`otpfix(${RULE}): 1 fix in lib/chat/room_supervisor.ex`);
    expect(readdirSync(path.join(root, 'fleet/clones2'))).toEqual([]);
  });
});

describe('pr helpers', () => {
  const rule = (over: Partial<RuleInfo> = {}): RuleInfo => ({
    id: 'some-rule',
    title: 'Some flaw',
    severity: 'medium',
    fixSafety: 'safe',
    explanation: 'First paragraph\nwrapped.\n\nSecond paragraph.',
    options: [],
    ...over,
  });
  const report = (over: Partial<BranchReport> = {}): BranchReport => ({
    branch: 'otpfix/some-rule',
    grouping: 'rule',
    baseBranch: 'main',
    baseCommit: '0123456789abcdef0123',
    rules: [rule()],
    changes: [{ ruleId: 'some-rule', file: 'lib/a.ex', line: 3, message: 'runs in the caller', alsoFiles: ['lib/app.ex'] }],
    files: [
      { file: 'lib/a.ex', added: 2, removed: 1 },
      { file: 'lib/app.ex', added: 1, removed: 0 },
    ],
    left: [],
    overlaps: [],
    ...over,
  });

  it('writes title, commit message and body from the report, rule-agnostic', () => {
    const safe = report();
    expect(prTitle(safe)).toBe('otpfix: Some flaw');
    expect(commitMessage(safe).split('\n')[0]).toBe('otpfix(some-rule): 1 fix in 2 files');
    const body = prBody(safe);
    expect(body).toContain('from `main` at `0123456789ab`');
    expect(body).toContain('\nFirst paragraph wrapped.\n');
    expect(body).toContain('- `lib/a.ex:3`: some-rule, also edits `lib/app.ex`');
    expect(body).toContain('`lib/a.ex` (+2 −1), `lib/app.ex` (+1 −0)');
    expect(body).toContain('- None known: every rule here marks its rewrite safe.');
    expect(body).not.toContain('## Left as they are');

    const mixed = report({
      rules: [rule({ fixSafety: 'review' }), rule({ id: 'other', title: 'Other', risks: 'Callers may now\nsee errors.', options: [{ key: 'n', value: 5, isDefault: false }] })],
      changes: [...report().changes, { ruleId: 'other', file: 'lib/a.ex', line: 9, message: 'm', alsoFiles: [] }],
      overlaps: [{ file: 'lib/a.ex', branches: ['otpfix/x'] }],
      left: [{ ruleId: 'other', file: 'lib/b.ex', line: 4, reason: 'dropped by verification: would not parse' }],
    });
    expect(prTitle(mixed)).toBe('otpfix: 2 fixes from 2 rules in 2 files');
    const text = prBody(mixed);
    expect(text).toContain('- `some-rule` changes behaviour: review each change above.');
    expect(text).toContain('- `other`: Callers may now see errors.');
    expect(text).toContain('- `other` used `n: 5`; change it under `rules.other.options`');
    expect(text).toContain('- `lib/a.ex` is also changed on `otpfix/x`: merging both may conflict.');
    expect(text).toContain('## Left as they are\n\n- `lib/b.ex:4` (`other`): dropped by verification: would not parse');
  });

  it('removes the temporary worktrees it knows of, synchronously (for interrupts)', async () => {
    const repo = makeRepo();
    const scratch = new Scratch();
    const dir = path.join(root, `scratch${counter++}`);
    const wt = await scratch.addWorktree(new Git(repo, env), dir, git(repo, 'rev-parse', 'HEAD'));
    expect(existsSync(path.join(wt.dir, 'lib/shop/application.ex'))).toBe(true);
    expect(git(repo, 'worktree', 'list')).toContain(dir);
    const temp = scratch.makeTempDir('otpfix-scratch-');
    scratch.cleanupSync();
    expect(existsSync(temp)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(git(repo, 'worktree', 'list')).not.toContain(dir);
  });

  it('follows a line through a later change', () => {
    const a = 'one\ntwo\nthree\nfour\n';
    expect(followLine(4, a, 'zero\none\ntwo\nthree\nfour\n')).toBe(5);
    expect(followLine(1, a, 'one\ntwo\nthree\nfour\nfive\n')).toBe(1);
    expect(followLine(3, a, 'one\n2a\n2b\nthree\nfour\n')).toBe(4);
    expect(followLine(2, a, 'one\n2a\n2b\nthree\nfour\n')).toBe(2);
  });

  it('turns paths into branch-name components', () => {
    expect(refSafe('lib/shop/cart.ex')).toBe('lib-shop-cart.ex');
    expect(refSafe('lib/ünïcode dir/x..ex')).toBe('lib-n-code-dir-x.ex');
    expect(refSafe('.hidden/a.lock')).toBe('hidden-a-lock');
  });

  it('reads a repository list: comments, blank lines, URLs and paths relative to the list', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'otpfix-list-'));
    try {
      const file = path.join(dir, 'repos.txt');
      writeFileSync(file, '# fleet\n\n  ../app  \ngit@github.com:acme/shop.git # ssh\nhttps://example.com/x.git\n');
      expect(readRepoList(file)).toEqual([
        { label: '../app', dir: path.resolve(dir, '../app') },
        { label: 'git@github.com:acme/shop.git', url: 'git@github.com:acme/shop.git' },
        { label: 'https://example.com/x.git', url: 'https://example.com/x.git' },
      ]);
      writeFileSync(file, '# nothing\n');
      expect(() => readRepoList(file)).toThrow(/lists no repository/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
