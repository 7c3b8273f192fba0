/**
 * Runs rules over real projects, in memory (nothing is written): findings per rule, rule crashes,
 * fixes that fail verification (every applied fix re-parses and is re-detected by the engine), and
 * whether a second run over the fixed code changes anything more.
 *
 *   npx tsx scripts/real-run.ts <out.json> <rule,rule,...> <project-dir>...
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { prepare } from '../src/api.js';
import { detectAll, locate, runFixSession } from '../src/core/engine.js';

const [outFile, ruleList, ...dirs] = process.argv.slice(2);
const rules = ruleList.split(',');
const report: Record<string, unknown>[] = [];
for (const dir of dirs) {
  const started = Date.now();
  const prepared = await prepare({ paths: [dir], cwd: dir, rules, config: { rules: {}, include: [], exclude: [] } });
  const loaded = Date.now();
  const { findings, problems } = detectAll(prepared.workspace, prepared.rules);
  const detected = Date.now();
  const session = await runFixSession(prepared.workspace, prepared.rules, { decide: () => 'yes' });
  const again = await runFixSession(session.workspace, prepared.rules, { decide: () => 'yes' });
  const located = findings.map((f) => locate(prepared.workspace, f));
  const project = path.basename(dir);
  report.push({
    project,
    files: prepared.workspace.files.length,
    skipped: prepared.statuses.filter((s) => s.status !== 'ok').length,
    ms: { load: loaded - started, detect: detected - loaded },
    problems: [...problems, ...session.problems, ...again.problems],
    failedFixes: session.failed.map((f) => ({ rule: f.finding.ruleId, key: f.finding.key, reason: f.reason })),
    applied: session.applied.map((c) => ({ rule: c.finding.ruleId, files: c.files.map((x) => x.relPath), key: c.finding.key })),
    secondRunApplied: again.applied.length,
    secondRunFailed: again.failed.map((f) => ({ rule: f.finding.ruleId, key: f.finding.key, reason: f.reason })),
    findings: located.map((f) => ({ rule: f.ruleId, severity: f.severity, file: f.relPath, line: f.line, fixable: f.fixable, message: f.message })),
  });
  const counts: Record<string, number> = {};
  for (const f of findings) counts[f.ruleId] = (counts[f.ruleId] ?? 0) + 1;
  console.log(
    `${project}: ${prepared.workspace.files.length} files, ${findings.length} findings ${JSON.stringify(counts)}, ` +
      `${session.applied.length} fixes applied, ${session.failed.length} failed, second run applied ${again.applied.length}, ` +
      `${problems.length} rule problems, detect ${detected - loaded} ms`,
  );
}
writeFileSync(outFile, JSON.stringify(report, null, 2));
