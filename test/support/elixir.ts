import { execFileSync, spawnSync } from 'node:child_process';

/** Whether the real Elixir toolchain is installed (CI installs Debian's `elixir`). */
export function elixirAvailable(): boolean {
  try {
    execFileSync('elixir', ['--version'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

export function runElixir(args: string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}) {
  const result = spawnSync('elixir', args, {
    cwd: options.cwd,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
    env: { ...process.env, ...options.env },
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', error: result.error };
}

export const SKIP_NOTE = 'SKIPPED: `elixir` is not installed, so the Elixir VM checks and proofs did not run (CI installs it with apt-get install -y elixir)';
