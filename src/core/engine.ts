/**
 * The engine: runs detection, asks a rule for its fix, and verifies it before anyone sees it —
 * edits applied together or not at all, overlaps rejected, the result re-parsed, and the rule
 * re-run on the result (the fixed finding must not come back).
 */
import type { ActiveRule } from './config.js';
import { applyEdits, findConflict, writtenRanges } from './edit.js';
import { errorMessage } from './errors.js';
import { dominantEol } from './files.js';
import { buildFileModel, type FileModel } from './model/module.js';
import { parseElixir, syntaxProblems } from './parse.js';
import { positionOf } from './position.js';
import { codeRole, ROLE_NAMES, type CodeRole } from './roles.js';
import type { Scope } from './scope.js';
import { applySuppressions, type SuppressedFinding } from './suppressions.js';
import { SEVERITIES, type Edit, type Finding, type Severity } from './types.js';
import type { Workspace } from './workspace.js';

export interface RuleProblem {
  file: string;
  ruleId: string;
  message: string;
}

export interface DetectResult {
  findings: Finding[];
  problems: RuleProblem[];
  /** Findings silenced by `# otpfix:disable-*` comments (not in `findings`). */
  suppressed: SuppressedFinding[];
}

export function detectFile(ws: Workspace, file: FileModel, rules: ActiveRule[]): DetectResult {
  const findings: Finding[] = [];
  const problems: RuleProblem[] = [];
  const role = codeRole(file.path, file.relPath);
  for (const rule of rules) {
    if (role !== 'production' && rule.nonProduction === 'off') continue;
    try {
      for (const f of rule.transform.detect({ file, project: ws.index, options: rule.options })) {
        const found = { ...f, severity: configuredSeverity(f.severity, rule) };
        findings.push(role === 'production' || rule.nonProduction === 'full' ? found : asNonProduction(found, role));
      }
    } catch (err) {
      problems.push({ file: file.path, ruleId: rule.transform.id, message: `rule crashed: ${errorMessage(err)}` });
    }
  }
  findings.sort(byPosition);
  const { kept, suppressed } = applySuppressions(file, findings);
  return { findings: kept, problems, suppressed };
}

/** Findings in tests, examples, benchmarks and docs are info and not rewritten (docs/severity.md). */
function asNonProduction(finding: Finding, role: Exclude<CodeRole, 'production'>): Finding {
  const fix = finding.fixable ? ' and not rewritten' : '';
  return {
    ...finding,
    severity: 'info',
    fixable: false,
    message: `${finding.message} (In ${ROLE_NAMES[role]}: reported as info${fix}; \`"nonProductionCode": "full"\` in .otpfix.json treats it as production code.)`,
  };
}

/**
 * A configured severity replaces the rule's default; a finding the rule itself rated lower (unproven)
 * keeps its lower severity, unless the configured one is lower still.
 */
function configuredSeverity(found: Severity, rule: ActiveRule): Severity {
  if (found === rule.transform.severity) return rule.severity;
  return SEVERITIES.indexOf(found) > SEVERITIES.indexOf(rule.severity) ? found : rule.severity;
}

/** Told after each file's detection (progress, per-file timings). */
export type DetectProgress = (file: FileModel, result: DetectResult, ms: number, done: number, total: number) => void;

/** Detection in every file (or only in the files `scope` admits, its findings narrowed by the scope). */
export function detectAll(ws: Workspace, rules: ActiveRule[], onFile?: DetectProgress, scope?: Scope): DetectResult {
  const findings: Finding[] = [];
  const problems: RuleProblem[] = [];
  const suppressed: SuppressedFinding[] = [];
  const files = scope?.file ? ws.files.filter((f) => scope.file!(f)) : ws.files;
  files.forEach((file, i) => {
    const started = performance.now();
    const r = detectFile(ws, file, rules);
    findings.push(...r.findings);
    problems.push(...r.problems);
    suppressed.push(...r.suppressed);
    onFile?.(file, r, performance.now() - started, i + 1, files.length);
  });
  return { findings: scope?.findings ? scope.findings(findings, ws) : findings, problems, suppressed };
}

function byPosition(a: Finding, b: Finding): number {
  return a.file.localeCompare(b.file) || a.start - b.start || a.ruleId.localeCompare(b.ruleId);
}

export interface ChangedFile {
  path: string;
  relPath: string;
  before: string;
  after: string;
}

export interface Change {
  finding: Finding;
  rule: ActiveRule;
  edits: Edit[];
  files: ChangedFile[];
  notes: string[];
  /** The workspace with this change applied. */
  result: Workspace;
  /** A person edited the proposed result by hand (and it passed verification again). */
  edited?: boolean;
}

export interface FixFailure {
  finding: Finding;
  rule: ActiveRule;
  reason: string;
  /** True when the rule itself declined (detect-only for this instance) rather than failing verification. */
  declined: boolean;
}

export function isChange(x: Change | FixFailure): x is Change {
  return 'files' in x;
}

/**
 * `others`: the run's rules; a rewrite that any of them would report anew in the changed files is
 * dropped, so no rule reports code another rule wrote and a rescan agrees with the fix session.
 */
export function proposeFix(ws: Workspace, finding: Finding, rule: ActiveRule, others: ActiveRule[] = []): Change | FixFailure {
  const fail = (reason: string, declined = false): FixFailure => ({ finding, rule, reason, declined });
  const transform = rule.transform;
  if (!transform.fix || !finding.fixable) return fail('this rule does not rewrite this finding (detect only)', true);
  const file = ws.file(finding.file);
  if (!file) return fail('the file is not part of this run');
  let result;
  try {
    result = transform.fix(finding, { file, project: ws.index, options: rule.options });
  } catch (err) {
    return fail(`the fix crashed: ${errorMessage(err)}`);
  }
  if ('skip' in result) return fail(result.skip, true);
  const { edits } = result;
  if (!edits.length) return fail('the fix produced no edits');
  const conflict = findConflict(edits);
  if (conflict) return fail(`the fix's edits overlap (offsets ${conflict[0].start} and ${conflict[1].start})`);

  const byFile = new Map<string, Edit[]>();
  for (const e of edits) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  const afters = new Map<string, string>();
  for (const [path, fileEdits] of byFile) {
    const target = ws.file(path);
    if (!target) return fail(`the fix edits ${path}, which is not part of this run`);
    afters.set(path, applyEdits(target.text, fileEdits, dominantEol(target.text)));
  }
  const verified = verifyTexts(ws, finding, rule, afters, 'rewrite');
  if (typeof verified === 'string') return fail(verified);
  const reported = newFindings(ws, verified.result, edits, verified.files, others);
  if (reported)
    return fail(`the rewrite would be reported by ${reported.ruleId} (${firstSentence(reported.message)}); dropped`);
  return { finding, rule, edits, files: verified.files, notes: result.notes ?? [], result: verified.result };
}

/**
 * The first finding of `rules` that starts in text this change wrote and that was not reported before
 * it: rewrites must not be reported by any rule (a rescan agrees with the session).
 */
function newFindings(before: Workspace, after: Workspace, edits: Edit[], files: ChangedFile[], rules: ActiveRule[]): Finding | undefined {
  if (!rules.length) return undefined;
  const id = (f: Finding) => `${f.ruleId}\u0000${f.key}`;
  for (const changed of files) {
    const old = before.file(changed.path);
    const written = writtenRanges(edits.filter((e) => e.file === changed.path), old ? dominantEol(old.text) : '\n');
    const inWritten = (f: Finding) => written.some((r) => f.start < Math.max(r.end, r.start + 1) && r.start <= f.start);
    const known = new Set(old ? detectFile(before, old, rules).findings.map(id) : []);
    const fresh = detectFile(after, after.file(changed.path)!, rules).findings.find((f) => inWritten(f) && !known.has(id(f)));
    if (fresh) return fresh;
  }
  return undefined;
}

const firstSentence = (message: string) => message.split(/(?<=\.)\s/)[0].replace(/\.$/, '');

/**
 * The checks every rewrite passes before anyone may apply it: each new text re-parses without
 * ERROR/MISSING nodes, and the rule, re-run on the result, no longer reports the finding.
 * Returns the reason when a check fails.
 */
function verifyTexts(
  ws: Workspace,
  finding: Finding,
  rule: ActiveRule,
  afters: Map<string, string>,
  what: 'rewrite' | 'edited text',
): { files: ChangedFile[]; result: Workspace } | string {
  const models = new Map<string, FileModel>();
  const files: ChangedFile[] = [];
  for (const [path, after] of afters) {
    const target = ws.file(path);
    if (!target) return `${path} is not part of this run`;
    if (after === target.text) continue;
    const tree = parseElixir(after);
    const problem = syntaxProblems(tree, 1)[0];
    const dropped = what === 'rewrite' ? '; dropped' : '';
    if (problem) return `the ${what} of ${target.relPath} would not parse (line ${problem.line}, column ${problem.column})${dropped}`;
    models.set(path, buildFileModel({ path, relPath: target.relPath, text: after }, tree));
    files.push({ path, relPath: target.relPath, before: target.text, after });
  }
  if (!files.length) return what === 'rewrite' ? 'the fix changes nothing' : 'the edited text changes nothing';

  const next = ws.withModels(models);
  for (const path of new Set([finding.file, ...models.keys()])) {
    const model = next.file(path)!;
    let again: Finding[];
    try {
      again = rule.transform.detect({ file: model, project: next.index, options: rule.options });
    } catch (err) {
      return `re-running the rule on the result crashed: ${errorMessage(err)}`;
    }
    if (again.some((f) => f.key === finding.key))
      return `after the ${what} the rule still reports this finding${what === 'rewrite' ? '; dropped' : ''}`;
  }
  return { files, result: next };
}

/**
 * A change whose result a person edited by hand (`edit` in an interactive session): `texts` holds
 * the edited full text of some of the change's files. It passes the same checks as a rule's own
 * rewrite before it can be applied.
 */
export function verifyEditedChange(ws: Workspace, change: Change, texts: Map<string, string>): Change | FixFailure {
  const afters = new Map(change.files.map((f) => [f.path, texts.get(f.path) ?? f.after]));
  const verified = verifyTexts(ws, change.finding, change.rule, afters, 'edited text');
  if (typeof verified === 'string') return { finding: change.finding, rule: change.rule, reason: verified, declined: false };
  const edits = verified.files.map((f) => ({ file: f.path, start: 0, end: f.before.length, text: f.after }));
  return { ...change, edits, files: verified.files, result: verified.result, edited: true };
}

/** `{ apply }`: apply this verified replacement (an edited version of the change) instead. */
export type Decision = 'yes' | 'no' | 'quit' | { apply: Change };

export interface DecideContext {
  /** Verify hand-edited texts of the change's files against the workspace the change was made on. */
  verifyEdit(texts: Map<string, string>): Change | FixFailure;
}

export interface SessionHooks {
  /** Asked once per verified change; `pending` counts the fixable findings not yet decided. */
  decide(change: Change, pending: number, ctx: DecideContext): Promise<Decision> | Decision;
  /** Told about each fix that failed verification or that the rule declined. */
  onFailure?(failure: FixFailure): void;
}

export interface SessionResult {
  workspace: Workspace;
  applied: SessionChange[];
  rejected: SessionChange[];
  failed: FixFailure[];
  /** Findings left as they are because their rule does not fix them. */
  detectOnly: Finding[];
  problems: RuleProblem[];
  /** Findings silenced by suppression comments, at the start of the session. */
  suppressed: SuppressedFinding[];
  /** What a rescan of the final texts reports: the session's "findings left". */
  left: Finding[];
  quit: boolean;
}

/**
 * Walk the fixable findings in file order. Each change is computed on the workspace as it is after
 * every earlier accepted change, so accepted edits never go stale; after an accept, only the files
 * it touched are re-detected.
 */
export async function runFixSession(
  start: Workspace,
  rules: ActiveRule[],
  hooks: SessionHooks,
  onFile?: DetectProgress,
  scope?: Scope,
): Promise<SessionResult> {
  let ws = start;
  const ruleById = new Map(rules.map((r) => [r.transform.id, r]));
  const initial = detectAll(ws, rules, onFile, scope);
  const problems = [...initial.problems];
  const byFile = new Map<string, Finding[]>();
  for (const f of initial.findings) byFile.set(f.file, [...(byFile.get(f.file) ?? []), f]);
  const decided = new Set<string>();
  const id = (f: Finding) => `${f.ruleId}\u0000${f.file}\u0000${f.key}`;
  // With a scope, positions shift as changes land: later detections are kept by identity instead.
  const scoped = new Set(initial.findings.map(id));
  const inScope = (found: Finding[]) => (scope ? found.filter((f) => scoped.has(id(f))) : found);
  const session: SessionResult = {
    workspace: ws,
    applied: [],
    rejected: [],
    failed: [],
    detectOnly: [],
    problems,
    suppressed: initial.suppressed,
    left: [],
    quit: false,
  };
  for (const f of initial.findings) if (!f.fixable) (session.detectOnly.push(f), decided.add(id(f)));

  const pendingFindings = () => [...byFile.values()].flat().filter((f) => !decided.has(id(f)));
  for (let pending = pendingFindings(); pending.length; pending = pendingFindings()) {
    const finding = pending.sort(byPosition)[0];
    decided.add(id(finding));
    const proposal = proposeFix(ws, finding, ruleById.get(finding.ruleId)!, rules);
    if (!isChange(proposal)) {
      if (proposal.declined) session.detectOnly.push({ ...finding, message: `${finding.message} (not rewritten: ${proposal.reason})` });
      else session.failed.push(proposal);
      hooks.onFailure?.(proposal);
      continue;
    }
    const base = ws;
    const decision = await hooks.decide(proposal, pending.length, { verifyEdit: (texts) => verifyEditedChange(base, proposal, texts) });
    if (decision === 'quit') {
      session.quit = true;
      break;
    }
    if (decision === 'no') {
      session.rejected.push(settled(proposal));
      continue;
    }
    const accepted = decision === 'yes' ? proposal : decision.apply;
    session.applied.push(settled(accepted));
    ws = accepted.result;
    for (const changed of accepted.files) {
      const model = ws.file(changed.path)!;
      const redetected = detectFile(ws, model, rules);
      problems.push(...redetected.problems);
      byFile.set(changed.path, inScope(redetected.findings));
      for (const f of inScope(redetected.findings)) if (!f.fixable && !decided.has(id(f))) (session.detectOnly.push(f), decided.add(id(f)));
    }
  }
  session.workspace = ws;
  // Cross-module facts may have changed in files no change touched: count what a rescan would report.
  session.left = ws === start ? initial.findings : inScope(detectAll(ws, rules, undefined, scope?.file && { file: scope.file }).findings);
  return session;
}

/** A decided change as a session keeps it: without its workspace or syntax nodes, which would keep every intermediate version of the project alive. */
export type SessionChange = Omit<Change, 'result'>;

function settled(change: Change): SessionChange {
  const { result: _result, ...rest } = change;
  return { ...rest, finding: { ...rest.finding, data: undefined } };
}

/** A range with 1-based lines and columns, relative path, for reporters. */
export interface LocatedRange {
  relPath: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

/** Findings with 1-based line/column ranges, for reporters; related locations located the same way. */
export interface LocatedFinding extends Finding, LocatedRange {
  relatedLocated: Array<LocatedRange & { file: string; start: number; end: number; message: string }>;
}

export function locate(ws: Workspace, finding: Finding): LocatedFinding {
  const range = (file: string, startOffset: number, endOffset: number): LocatedRange => {
    const model = ws.file(file);
    const text = model?.text ?? '';
    const start = positionOf(text, startOffset);
    const end = positionOf(text, endOffset);
    return { relPath: model?.relPath ?? file, line: start.line, column: start.column, endLine: end.line, endColumn: end.column };
  };
  return {
    ...finding,
    ...range(finding.file, finding.start, finding.end),
    relatedLocated: (finding.related ?? []).map((r) => ({ ...r, ...range(r.file, r.start, r.end) })),
  };
}
