// Runs rules over real projects: findings per rule, every fix verified by the engine (re-parse,
// re-detect), and a second run over the fixed workspace that must change nothing. Writes every
// finding (file, line, message) to OUT/<project>.json for hand review.
//   npx tsx scripts/real-run.ts OUT rule1,rule2 /path/to/project...
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { prepare } from '../src/api.js';
import { detectAll, locate, runFixSession } from '../src/core/engine.js';

const [out, ruleList, ...projects] = process.argv.slice(2);
const rules = ruleList.split(',');
mkdirSync(out, { recursive: true });
for (const dir of projects) {
  const name = path.basename(dir);
  const prepared = await prepare({ paths: [dir], cwd: dir, rules, config: { rules: {}, include: [], exclude: [] } });
  const { findings, problems } = detectAll(prepared.workspace, prepared.rules);
  const session = await runFixSession(prepared.workspace, prepared.rules, { decide: () => 'yes' });
  const second = await runFixSession(session.workspace, prepared.rules, { decide: () => 'yes' });
  const counts: Record<string, { findings: number; fixable: number; applied: number; failed: number; declined: number; again: number }> = {};
  for (const r of rules) counts[r] = { findings: 0, fixable: 0, applied: 0, failed: 0, declined: 0, again: 0 };
  for (const f of findings) (counts[f.ruleId].findings++, f.fixable && counts[f.ruleId].fixable++);
  for (const c of session.applied) counts[c.finding.ruleId].applied++;
  for (const c of session.failed) counts[c.finding.ruleId].failed++;
  for (const f of session.detectOnly) if (f.fixable) counts[f.ruleId].declined++;
  for (const c of second.applied) counts[c.finding.ruleId].again++;
  const files = prepared.statuses.filter((s) => s.status === 'ok').length;
  console.log(`${name}: ${files} files${problems.length ? `, ${problems.length} RULE PROBLEMS` : ''}`);
  for (const [r, c] of Object.entries(counts)) if (c.findings || c.again) console.log(`  ${r}: ${JSON.stringify(c)}`);
  for (const p of problems) console.log(`  PROBLEM ${p.ruleId} ${p.file}: ${p.message}`);
  for (const f of session.failed) console.log(`  FAILED ${f.finding.ruleId} ${f.finding.file}: ${f.reason}`);
  writeFileSync(
    path.join(out, `${name}.json`),
    JSON.stringify(
      {
        findings: findings.map((f) => {
          const l = locate(prepared.workspace, f);
          return { rule: f.ruleId, severity: f.severity, file: l.relPath, line: l.line, fixable: f.fixable, message: f.message };
        }),
        diffs: session.applied.map((c) => ({ rule: c.finding.ruleId, files: c.files.map((x) => x.relPath), edits: c.edits.map((e) => e.text) })),
        declined: session.detectOnly.filter((f) => f.fixable).map((f) => f.message),
      },
      null,
      1,
    ),
  );
}
