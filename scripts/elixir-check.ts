/**
 * The real Elixir toolchain on rewritten files (test/support/check_fixtures.exs): each must parse, be
 * laid out as `mix format` would when its original was, and compile without warnings its original
 * did not have. Shared by scripts/real-format-check.ts and `npm run realworld -- --elixir`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Rewrite {
  /** How to name the file in the report. */
  name: string;
  before: string;
  after: string;
}

/** The rewrites that fail a check, with the reason; `keep` leaves the copies on disk (their directory is returned). */
export function checkRewrites(rewrites: Rewrite[], keep = false): { failures: Array<{ name: string; reason: string }>; dir: string; status: number | null } {
  const dir = mkdtempSync(path.join(tmpdir(), 'otpfix-elixir-check-'));
  const manifest: string[] = [];
  const names = new Map<string, string>();
  rewrites.forEach((r, n) => {
    const before = path.join(dir, `${n}_before.ex`);
    const after = path.join(dir, `${n}_after.ex`);
    writeFileSync(before, r.before);
    writeFileSync(after, r.after);
    manifest.push(`${before}\t${after}`);
    names.set(after, r.name);
  });
  writeFileSync(path.join(dir, 'manifest.tsv'), manifest.join('\n'));
  const run = spawnSync('elixir', [path.join(root, 'test/support/check_fixtures.exs'), path.join(dir, 'manifest.tsv')], { encoding: 'utf8' });
  const failures = (run.stdout ?? '')
    .split('\n')
    .filter((l) => l.startsWith('FAIL'))
    .map((line) => {
      const [head, reason] = line.slice(5).split('\t');
      return { name: names.get(head) ?? head, reason: (reason ?? '').replace(/\\n/g, '\n') };
    });
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return { failures, dir, status: run.error ? null : run.status };
}
