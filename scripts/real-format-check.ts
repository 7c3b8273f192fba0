/**
 * `npx tsx scripts/real-format-check.ts <project>...`: applies every fix in memory, then asks the
 * real Elixir toolchain whether each rewritten file parses, is laid out as `mix format` would (when
 * the original was) and compiles without new warnings (test/support/check_fixtures.exs).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { changedFiles, prepare } from '../src/api.js';
import { runFixSession } from '../src/core/engine.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = mkdtempSync(path.join(tmpdir(), 'otpfix-realfmt-'));
const manifest: string[] = [];
const names = new Map<string, string>();
for (const dir of process.argv.slice(2)) {
  const prepared = await prepare({ paths: [dir], cwd: dir, config: { rules: {}, include: [], exclude: [] } });
  const session = await runFixSession(prepared.workspace, prepared.rules, { decide: () => 'yes' });
  for (const f of changedFiles(session)) {
    const n = manifest.length;
    const before = path.join(out, `${n}_before.ex`);
    const after = path.join(out, `${n}_after.ex`);
    writeFileSync(before, f.before);
    writeFileSync(after, f.after);
    manifest.push(`${before}\t${after}`);
    names.set(after, `${path.basename(dir)}/${f.relPath}`);
  }
}
writeFileSync(path.join(out, 'manifest.tsv'), manifest.join('\n'));
const run = spawnSync('elixir', [path.join(root, 'test/support/check_fixtures.exs'), path.join(out, 'manifest.tsv')], { encoding: 'utf8' });
const failures = run.stdout.split('\n').filter((l) => l.startsWith('FAIL'));
for (const line of failures) {
  const [head, reason] = line.slice(5).split('\t');
  console.log(`FAIL ${names.get(head) ?? head}: ${reason.replace(/\\n/g, '\n').slice(0, 2000)}`);
}
console.log(`${manifest.length} rewritten files, ${failures.length} not parsing, not formatted or with new warnings (copies in ${out})`);
process.exit(failures.length || run.status ? 1 : 0);
