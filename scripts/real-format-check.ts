/**
 * `npx tsx scripts/real-format-check.ts <project>...`: applies every fix in memory, then asks the
 * real Elixir toolchain whether each rewritten file parses, is laid out as `mix format` would (when
 * the original was) and compiles without new warnings (scripts/elixir-check.ts). The same check runs
 * in `npm run realworld -- --elixir`.
 */
import path from 'node:path';
import { changedFiles, prepare } from '../src/api.js';
import { runFixSession } from '../src/core/engine.js';
import { checkRewrites, type Rewrite } from './elixir-check.js';

const rewrites: Rewrite[] = [];
for (const dir of process.argv.slice(2)) {
  const prepared = await prepare({ paths: [dir], cwd: dir, config: { rules: {}, include: [], exclude: [] } });
  const session = await runFixSession(prepared.workspace, prepared.rules, { decide: () => 'yes' });
  for (const f of changedFiles(session)) rewrites.push({ name: `${path.basename(dir)}/${f.relPath}`, before: f.before, after: f.after });
}
const { failures, dir, status } = checkRewrites(rewrites, true);
for (const f of failures) console.log(`FAIL ${f.name}: ${f.reason.slice(0, 2000)}`);
console.log(`${rewrites.length} rewritten files, ${failures.length} not parsing, not formatted or with new warnings (copies in ${dir})`);
process.exit(failures.length || status ? 1 : 0);
