/**
 * The real-world benchmark: runs every rule, then a whole `fix --yes` session in memory (nothing is
 * written), over real projects laid out locally, and scores the results against the committed labels
 * in realworld/<project>.json. It fetches nothing: lay each project out at the commit its label file
 * names (see realworld/README.md).
 *
 *   npm run realworld -- [--dir DIR] [--set tuning|held-out] [--stubs DIR] [--json FILE] [--check] [--elixir] [project...]
 *
 * Prints per project and per set: precision (TP + minor), strict precision (TP), severity agreement,
 * non-production findings above info, restatements, unlabelled findings, known misses now found, and
 * for the fixes: accepted (as is or with small edits), rejected, breaking, ungraded. Also checks that
 * every rewrite parses, that a second fix session changes nothing, and that no rule crashes. With
 * --elixir, the real Elixir toolchain checks every rewritten file too: laid out as `mix format` would
 * when the original was, and no compiler warning the original did not have (scripts/elixir-check.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createTwoFilesPatch } from 'diff';
import { changedFiles, prepare } from '../src/api.js';
import { locate, runFixSession, type LocatedFinding, type SessionChange } from '../src/core/engine.js';
import { enclosingFunction } from '../src/core/findings.js';
import { codeRole } from '../src/core/roles.js';
import { SEVERITIES, type Severity } from '../src/core/types.js';
import type { Workspace } from '../src/core/workspace.js';
import { checkRewrites } from './elixir-check.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const LABELS = path.join(ROOT, 'realworld');

type FindingLabel = 'tp' | 'minor' | 'wrong-reason' | 'fp' | 'restatement';
type Verdict = 'accept' | 'edit' | 'reject';

interface Site {
  rule: string;
  /** Relative to the project root. */
  file: string;
  /** `Mod.fun/arity`, the module, or `-` (see enclosingFunction). */
  function: string;
  /** The rule's own offset-free key; tells apart several findings of one rule in one function. */
  key?: string;
}

interface LabelFile {
  project: string;
  repo: string;
  commit: string;
  /** `tuning`: looked at while writing rules; `held-out`: never looked at while writing rules. */
  set: 'tuning' | 'held-out';
  findings: Array<Site & { label: FindingLabel; severity?: Severity; why: string }>;
  fixes: Array<Site & { verdict: Verdict; breaks?: boolean; why: string }>;
  misses: Array<Site & { why: string }>;
}

interface Found extends Site {
  severity: Severity;
  message: string;
  line: number;
  nonProduction: boolean;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: 'string', default: process.env.OTPFIX_REAL_DIR ?? '/work/real' },
    set: { type: 'string' },
    stubs: { type: 'string' },
    json: { type: 'string' },
    check: { type: 'boolean', default: false },
    elixir: { type: 'boolean', default: false },
  },
});

// A positional may be a path (`/work/real/oban`): its parent is then the directory of projects.
for (let i = 0; i < positionals.length; i++)
  if (positionals[i].includes('/')) {
    values.dir = path.dirname(path.resolve(positionals[i]));
    positionals[i] = path.basename(positionals[i]);
  }

const labelFiles = readdirSync(LABELS)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(path.join(LABELS, f), 'utf8')) as LabelFile)
  .filter((l) => (!positionals.length || positionals.includes(l.project)) && (!values.set || l.set === values.set));
for (const name of positionals)
  if (!labelFiles.some((l) => l.project === name)) console.log(`${name}: no realworld/${name}.json; run it unlabelled with --stubs to start one`);

interface Score {
  findings: number;
  labelled: number;
  tp: number;
  minor: number;
  restatements: number;
  severityRight: number;
  severityRated: number;
  nonProductionAboveInfo: number;
  missesFound: number;
  misses: number;
  changes: number;
  graded: number;
  accepted: number;
  rejected: number;
  breaking: number;
}
const empty = (): Score => ({
  findings: 0, labelled: 0, tp: 0, minor: 0, restatements: 0, severityRight: 0, severityRated: 0,
  nonProductionAboveInfo: 0, missesFound: 0, misses: 0, changes: 0, graded: 0, accepted: 0, rejected: 0, breaking: 0,
});

let broken = 0;
const totals = new Map<string, Score>();
const report: unknown[] = [];
const projects = [
  ...labelFiles,
  ...positionals.filter((p) => !labelFiles.some((l) => l.project === p)).map(
    (p): LabelFile => ({ project: p, repo: '', commit: '', set: 'tuning', findings: [], fixes: [], misses: [] }),
  ),
];

for (const labels of projects) {
  const dir = path.join(values.dir!, labels.project);
  if (!existsSync(dir)) {
    console.log(`${labels.project}: not laid out at ${dir} (${labels.repo} @ ${labels.commit}); skipped`);
    continue;
  }
  const t0 = performance.now();
  const prepared = await prepare({ paths: [dir], cwd: dir, config: { rules: {}, include: [], exclude: [] } });
  const session = await runFixSession(prepared.workspace, prepared.rules, { decide: () => 'yes' });
  const second = await runFixSession(session.workspace, prepared.rules, { decide: () => 'yes' });
  const ws = prepared.workspace;

  // The first session's findings are the scan's: every one it met (applied, failed, detect-only).
  const all = [...session.applied.map((c) => c.finding), ...session.failed.map((f) => f.finding), ...session.detectOnly, ...session.rejected.map((c) => c.finding)];
  const seen = new Set<string>();
  const found: Found[] = [];
  for (const f of all) {
    const id = `${f.ruleId}\u0000${f.file}\u0000${f.key}`;
    if (seen.has(id) || !ws.file(f.file)) continue;
    seen.add(id);
    found.push(siteOf(ws, locate(ws, f)));
  }
  found.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule));

  const score = empty();
  score.findings = found.length;
  const usedLabels = new Set<number>();
  const unlabelled: Found[] = [];
  for (const f of found) {
    if (f.nonProduction && f.severity !== 'info') score.nonProductionAboveInfo++;
    const i = match(labels.findings, f, usedLabels);
    if (i < 0) {
      unlabelled.push(f);
      continue;
    }
    usedLabels.add(i);
    const l = labels.findings[i];
    score.labelled++;
    if (l.label === 'tp') score.tp++;
    if (l.label === 'minor') score.minor++;
    if (l.label === 'restatement') score.restatements++;
    if (l.severity && (l.label === 'tp' || l.label === 'minor')) {
      score.severityRated++;
      if (l.severity === f.severity) score.severityRight++;
    }
  }
  score.misses = labels.misses.length;
  score.missesFound = labels.misses.filter((m) => found.some((f) => f.rule === m.rule && f.file === m.file && f.function === m.function)).length;

  const usedGrades = new Set<number>();
  const ungraded: SessionChange[] = [];
  for (const c of session.applied) {
    score.changes++;
    const site = siteOf(ws, locate(ws, c.finding));
    const i = match(labels.fixes, site, usedGrades);
    if (i < 0) {
      ungraded.push(c);
      continue;
    }
    usedGrades.add(i);
    const g = labels.fixes[i];
    score.graded++;
    if (g.verdict === 'reject') score.rejected++;
    else score.accepted++;
    if (g.breaks) score.breaking++;
  }

  const problems = [...session.problems, ...second.problems];
  for (const p of problems) (console.log(`  RULE CRASH ${p.ruleId} ${path.relative(dir, p.file)}: ${p.message}`), broken++);
  for (const c of second.applied) (console.log(`  NOT IDEMPOTENT ${c.finding.ruleId} ${path.relative(dir, c.finding.file)}: ${c.finding.key}`), broken++);
  if (values.elixir) {
    const rules = new Map<string, string[]>();
    for (const c of session.applied) for (const f of c.files) rules.set(f.relPath, [...(rules.get(f.relPath) ?? []), c.finding.ruleId]);
    const rewrites = changedFiles(session).map((f) => ({ name: `${f.relPath} (${[...new Set(rules.get(f.relPath))].join(', ')})`, before: f.before, after: f.after }));
    for (const f of checkRewrites(rewrites).failures) (console.log(`  ELIXIR ${f.name}: ${f.reason.split('\n')[0].slice(0, 300)}`), broken++);
  }

  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`${labels.project} [${labels.set}] ${ws.files.length} files, ${seconds} s: ${line(score)}; ${unlabelled.length} unlabelled, ${ungraded.length} ungraded`);
  for (const set of [labels.set, 'all']) totals.set(set, add(totals.get(set) ?? empty(), score));
  report.push({ project: labels.project, set: labels.set, score, unlabelled, ungraded: ungraded.map((c) => siteOf(ws, locate(ws, c.finding))) });
  if (values.stubs) writeStubs(labels, unlabelled, ungraded, ws);
}

console.log('');
for (const [set, s] of totals) console.log(`${set.padEnd(9)} ${line(s)}`);
if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2));

let failed = broken > 0;
if (values.check) {
  const held = totals.get('held-out');
  const checks: Array<[string, boolean]> = held
    ? [
        ['held-out precision >= 90%', ratio(held.tp + held.minor, held.labelled) >= 0.9],
        ['held-out strict precision >= 50%', ratio(held.tp, held.labelled) >= 0.5],
        ['held-out severity right >= 80%', ratio(held.severityRight, held.severityRated) >= 0.8],
        ['no non-production finding above info', held.nonProductionAboveInfo === 0],
        ['no restatements', held.restatements === 0],
        ['every held-out finding labelled', held.labelled === held.findings],
        ['fixes accepted >= 80%', ratio(held.accepted, held.graded) >= 0.8],
        ['no fix that breaks behaviour', held.breaking === 0],
      ]
    : [['a held-out project was run', false]];
  for (const [name, ok] of checks) console.log(`${ok ? 'PASS' : 'FAIL'} ${name}`);
  failed ||= checks.some(([, ok]) => !ok);
}
process.exit(failed ? 1 : 0);

function siteOf(ws: Workspace, f: LocatedFinding): Found {
  const model = ws.file(f.file)!;
  const root = projectRootOf(f.file);
  return {
    rule: f.ruleId,
    file: path.relative(root, f.file).split(path.sep).join('/'),
    function: enclosingFunction(model, f.start),
    key: f.key,
    severity: f.severity,
    message: f.message,
    line: f.line,
    nonProduction: codeRole(f.file, f.relPath) !== 'production',
  };
}

function projectRootOf(file: string): string {
  const rel = path.relative(values.dir!, file).split(path.sep);
  return path.join(values.dir!, rel[0]);
}

/** A label for this site: same rule, file and function; the same key first, else the first unused. */
function match(labels: Site[], site: Site, used: Set<number>): number {
  let fallback = -1;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (used.has(i) || l.rule !== site.rule || l.file !== site.file || l.function !== site.function) continue;
    if (l.key === site.key) return i;
    if (fallback < 0 && (!l.key || !labels.some((o, j) => j !== i && !used.has(j) && o.key === site.key))) fallback = i;
  }
  return fallback;
}

function ratio(a: number, b: number): number {
  return b ? a / b : 1;
}

function pct(a: number, b: number): string {
  return b ? `${Math.round((100 * a) / b)}%` : '—';
}

function line(s: Score): string {
  return [
    `${s.findings} findings (${s.labelled} labelled)`,
    `precision ${pct(s.tp + s.minor, s.labelled)}`,
    `strict ${pct(s.tp, s.labelled)}`,
    `severity right ${pct(s.severityRight, s.severityRated)}`,
    `non-production above info ${s.nonProductionAboveInfo}`,
    `restatements ${s.restatements}`,
    `misses found ${s.missesFound}/${s.misses}`,
    `fixes ${s.changes} (${s.graded} graded): accepted ${pct(s.accepted, s.graded)}, rejected ${s.rejected}, breaking ${s.breaking}`,
  ].join(', ');
}

function add(a: Score, b: Score): Score {
  const out = empty();
  for (const k of Object.keys(out) as Array<keyof Score>) out[k] = a[k] + b[k];
  return out;
}

/** What reviewers fill in: unlabelled findings and ungraded changes, with message and diff. */
function writeStubs(labels: LabelFile, unlabelled: Found[], ungraded: SessionChange[], ws: Workspace): void {
  mkdirSync(values.stubs!, { recursive: true });
  const stub = {
    project: labels.project,
    findings: unlabelled.map((f) => ({
      rule: f.rule, file: f.file, function: f.function, key: f.key, line: f.line, severity: f.severity, message: f.message,
      label: 'TODO: tp | minor | wrong-reason | fp | restatement', rightSeverity: `TODO: ${SEVERITIES.join(' | ')}`, why: 'TODO',
    })),
    fixes: ungraded.map((c) => {
      const site = siteOf(ws, locate(ws, c.finding));
      return {
        rule: site.rule, file: site.file, function: site.function, key: site.key,
        diff: c.files.map((f) => createTwoFilesPatch(f.relPath, f.relPath, f.before, f.after, '', '', { context: 4 })).join(''),
        notes: c.notes,
        verdict: 'TODO: accept | edit | reject', breaks: 'TODO: true if it breaks behaviour', why: 'TODO',
      };
    }),
  };
  writeFileSync(path.join(values.stubs!, `${labels.project}.todo.json`), JSON.stringify(stub, null, 2));
}
