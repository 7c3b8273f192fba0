/**
 * Run every rule over real projects, in memory: `npx tsx scripts/realworld.ts <dir>...`.
 * For each project: findings per rule, fixes applied / dropped by verification, and a second fix
 * run over the fixed texts, which must change nothing. Exits 1 when a second run changes something
 * or a rule crashes.
 */
import path from 'node:path';
import { prepare } from '../src/api.js';
import { runFixSession } from '../src/core/engine.js';
import { buildFileModel } from '../src/core/model/module.js';
import { parseElixir, syntaxProblems } from '../src/core/parse.js';
import { Workspace } from '../src/core/workspace.js';

let bad = 0;
for (const dir of process.argv.slice(2)) {
  const cwd = path.resolve(dir);
  const t0 = performance.now();
  const prepared = await prepare({ paths: [cwd], cwd, config: { rules: {}, include: [], exclude: [] } });
  const first = await runFixSession(prepared.workspace, prepared.rules, { decide: () => 'yes' });
  const perRule = new Map<string, { found: number; fixed: number; dropped: number }>();
  const bump = (rule: string, k: 'found' | 'fixed' | 'dropped') => {
    const r = perRule.get(rule) ?? { found: 0, fixed: 0, dropped: 0 };
    r[k]++;
    perRule.set(rule, r);
  };
  for (const c of first.applied) (bump(c.finding.ruleId, 'found'), bump(c.finding.ruleId, 'fixed'));
  for (const f of first.failed) (bump(f.finding.ruleId, 'found'), bump(f.finding.ruleId, 'dropped'));
  for (const f of first.detectOnly) bump(f.ruleId, 'found');

  // Every final text parses; a second run over them changes nothing.
  const models = first.workspace.files.map((f) => {
    const tree = parseElixir(f.text);
    if (syntaxProblems(tree).length) {
      console.log(`  UNPARSABLE OUTPUT ${f.relPath}`);
      bad++;
    }
    return buildFileModel({ path: f.path, relPath: f.relPath, text: f.text }, tree);
  });
  const second = await runFixSession(new Workspace(models, first.workspace.originals), prepared.rules, { decide: () => 'yes' });
  const skipped = prepared.statuses.filter((s) => s.status !== 'ok').length;
  console.log(
    `${path.basename(cwd)}: ${prepared.workspace.files.length} files (${skipped} not analysed), ` +
      `${first.applied.length} fixes, ${first.failed.length} dropped, ${first.detectOnly.length} detect-only, ` +
      `second run: ${second.applied.length} changes, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  for (const [rule, r] of [...perRule].sort()) console.log(`  ${rule}: ${r.found} found, ${r.fixed} fixed, ${r.dropped} dropped`);
  for (const f of first.failed) console.log(`  dropped ${f.finding.ruleId} ${path.relative(cwd, f.finding.file)}: ${f.reason}`);
  for (const p of [...first.problems, ...second.problems]) (console.log(`  RULE CRASH ${p.ruleId} ${p.file}: ${p.message}`), bad++);
  for (const c of second.applied) (console.log(`  NOT IDEMPOTENT ${c.finding.ruleId} ${path.relative(cwd, c.finding.file)}: ${c.finding.key}`), bad++);
}
process.exit(bad ? 1 : 0);
