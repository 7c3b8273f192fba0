/** Real git in temporary directories, with no personal config (fixed identity, no signing or hooks). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

let env: NodeJS.ProcessEnv | undefined;

/** The environment every test git (and otpfix run driving git) uses. */
export function gitEnv(): NodeJS.ProcessEnv {
  if (env) return env;
  const dir = mkdtempSync(path.join(tmpdir(), 'otpfix-gitconfig-'));
  const gitconfig = path.join(dir, 'gitconfig');
  writeFileSync(gitconfig, '[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n');
  env = { ...process.env, GIT_CONFIG_GLOBAL: gitconfig, GIT_CONFIG_NOSYSTEM: '1', NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  return env;
}

export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { env: gitEnv(), encoding: 'utf8' }).replace(/\n$/, '');
}

/** `git add -A && git commit` in `dir`; returns the new commit. */
export function commitAll(dir: string, message: string): string {
  git(dir, 'add', '-A');
  git(dir, 'commit', '--quiet', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}
