/**
 * What a reviewer reads: the branch's commit message and the pull request's title and markdown body,
 * as pure functions of a plain report (so they are testable without git).
 */
import type { FixSafety, Severity } from '../../core/types.js';
import { printable, shortJson } from '../format.js';

export type Grouping = 'rule' | 'file' | 'all';

export interface RuleInfo {
  id: string;
  title: string;
  severity: Severity;
  fixSafety: FixSafety;
  seedRef?: string;
  explanation: string;
  risks?: string;
  /** The option values this run used. */
  options: Array<{ key: string; value: unknown; isDefault: boolean }>;
}

/** One applied change: where its finding is in the branch's version of the file. */
export interface ChangeItem {
  ruleId: string;
  file: string;
  line: number;
  message: string;
  /** Other files the same change edits. */
  alsoFiles: string[];
}

export interface FileStat {
  file: string;
  added: number;
  removed: number;
}

/** A finding of this branch's scope still present on the branch, and why it was not rewritten. */
export interface LeftItem {
  ruleId: string;
  file: string;
  line: number;
  reason: string;
}

export interface BranchReport {
  branch: string;
  grouping: Grouping;
  /** The branch the pull request targets, when known. */
  baseBranch?: string;
  /** The commit the branch starts from. */
  baseCommit: string;
  rules: RuleInfo[];
  changes: ChangeItem[];
  files: FileStat[];
  left: LeftItem[];
  /** Files this branch changes that other branches of the same run change too. */
  overlaps: Array<{ file: string; branches: string[] }>;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const fixes = (n: number) => plural(n, 'fix', 'fixes');
const SAFETY: Record<FixSafety, string> = { safe: 'safe rewrite', review: 'rewrite to review', none: 'detect only' };
const LEFT_LIMIT = 20;

function where(files: FileStat[]): string {
  return files.length === 1 ? printable(files[0].file) : `${files.length} files`;
}

/** One line whatever the file names hold: a newline in a name would end a title or a commit subject. */
export function prTitle(r: BranchReport): string {
  if (r.rules.length === 1) return `otpfix: ${r.rules[0].title}${r.files.length === 1 ? ` in ${printable(r.files[0].file)}` : ''}`;
  return `otpfix: ${fixes(r.changes.length)} from ${r.rules.length} rules in ${where(r.files)}`;
}

export function commitMessage(r: BranchReport): string {
  const subject =
    r.rules.length === 1
      ? `otpfix(${r.rules[0].id}): ${fixes(r.changes.length)} in ${where(r.files)}`
      : `otpfix: ${fixes(r.changes.length)} from ${r.rules.length} rules in ${where(r.files)}`;
  const lines = [subject, '', 'Rules:'];
  for (const rule of r.rules) lines.push(`- ${rule.id}: ${rule.title} (${fixes(countFor(r, rule.id))})`);
  lines.push('', 'Files:', ...r.files.map((f) => `- ${printable(f.file)}`));
  lines.push('', 'Made by `otpfix pr`: every change was re-parsed and re-detected, and a second', 'otpfix run on the result changes nothing.');
  return lines.join('\n') + '\n';
}

function countFor(r: BranchReport, ruleId: string): number {
  return r.changes.filter((c) => c.ruleId === ruleId).length;
}

/** The explanation's first paragraph, as one line. */
function summary(explanation: string): string {
  return explanation.trim().split(/\n\s*\n/)[0].replace(/\s*\n\s*/g, ' ');
}

const code = (s: string) => `\`${s}\``;
const loc = (file: string, line: number) => code(`${printable(file)}:${line}`);

export function prBody(r: BranchReport): string {
  const out: string[] = [];
  const from = r.baseBranch ? `${code(r.baseBranch)} at ${code(r.baseCommit.slice(0, 12))}` : code(r.baseCommit.slice(0, 12));
  out.push(
    '## What',
    '',
    `otpfix rewrote ${plural(r.changes.length, 'place')} flagged by ${plural(r.rules.length, 'rule')} in ${plural(r.files.length, 'file')} (branch ${code(r.branch)}, from ${from}).`,
  );
  for (const rule of r.rules) {
    out.push('', `### ${rule.title} (${code(rule.id)})`, '');
    out.push(`Severity ${rule.severity} · ${SAFETY[rule.fixSafety]}${rule.seedRef ? ` · seed catalogue §${rule.seedRef}` : ''} · ${fixes(countFor(r, rule.id))}`);
    out.push('', summary(rule.explanation), '', '<details><summary>Full explanation</summary>', '', rule.explanation.trim(), '', '</details>');
  }

  out.push('', '## Why', '');
  for (const c of r.changes) out.push(`- ${loc(c.file, c.line)} (${code(c.ruleId)}): ${c.message}`);

  out.push(
    '',
    '## How it was verified',
    '',
    '- Each change was applied on its own and re-parsed (tree-sitter-elixir): no syntax error.',
    '- Each rule ran again on the result: the finding it fixed does not come back.',
    '- A second otpfix run on this branch changes nothing.',
    '- Not run here: the compiler and your tests. Run `mix compile --warnings-as-errors` and `mix test`.',
  );

  out.push('', '## Changes', '');
  for (const c of r.changes)
    out.push(`- ${loc(c.file, c.line)}: ${c.ruleId}${c.alsoFiles.length ? `, also edits ${c.alsoFiles.map((f) => code(printable(f))).join(', ')}` : ''}`);
  out.push('', `Files: ${r.files.map((f) => `${code(printable(f.file))} (+${f.added} −${f.removed})`).join(', ')}.`);

  out.push('', '## Risks', '');
  const risks: string[] = [];
  for (const rule of r.rules) {
    if (rule.risks) risks.push(`- ${code(rule.id)}: ${rule.risks.trim().replace(/\s*\n\s*/g, ' ')}`);
    else if (rule.fixSafety === 'review') risks.push(`- ${code(rule.id)} changes behaviour: review each change above.`);
    if (rule.options.length) {
      const used = rule.options.map((o) => `${code(`${o.key}: ${shortJson(o.value)}`)}${o.isDefault ? ' (default)' : ''}`).join(', ');
      risks.push(`- ${code(rule.id)} used ${used}; change it under ${code(`rules.${rule.id}.options`)} in ${code('.otpfix.json')}.`);
    }
  }
  for (const o of r.overlaps)
    risks.push(`- ${code(printable(o.file))} is also changed on ${o.branches.map(code).join(', ')}: merging both may conflict.`);
  if (!risks.length) risks.push('- None known: every rule here marks its rewrite safe.');
  out.push(...risks);

  if (r.left.length) {
    out.push('', '## Left as they are', '');
    for (const l of r.left.slice(0, LEFT_LIMIT)) out.push(`- ${loc(l.file, l.line)} (${code(l.ruleId)}): ${l.reason}`);
    if (r.left.length > LEFT_LIMIT) out.push(`- … and ${r.left.length - LEFT_LIMIT} more (see \`otpfix scan\`).`);
  }
  return out.join('\n') + '\n';
}
