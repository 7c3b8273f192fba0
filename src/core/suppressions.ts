/**
 * Inline suppressions, read from real comment nodes (never from strings or heredocs):
 *
 *   # otpfix:disable-next-line <rule>[, <rule>] [-- reason]   the findings that start on the next line
 *   # otpfix:disable-file [<rule>[, <rule>]] [-- reason]       the whole file (no rule: every rule)
 *
 * The engine drops suppressed findings before anyone sees them, so scan and fix both honour them.
 * Each directive remembers which rules it actually silenced, so unused ones can be reported.
 */
import type { FileModel } from './model/module.js';
import type { SyntaxNode } from './parse.js';
import type { Finding } from './types.js';

export interface Suppression {
  file: string;
  relPath: string;
  kind: 'next-line' | 'file';
  /** The rules named; empty means every rule (file form only). */
  rules: string[];
  /** 1-based position of the comment. */
  line: number;
  column: number;
  /** The line whose findings it silences (next-line form). */
  targetLine?: number;
}

/** A comment that looks like a directive but is not one we understand. */
export interface MalformedDirective {
  file: string;
  relPath: string;
  line: number;
  column: number;
  message: string;
}

export interface FileSuppressions {
  directives: Suppression[];
  malformed: MalformedDirective[];
}

const DIRECTIVE = /^#+\s*otpfix:([\w-]*)(.*)$/;

const cache = new WeakMap<FileModel, FileSuppressions>();

/** The directives of one file (computed once per file model). */
export function suppressionsOf(file: FileModel): FileSuppressions {
  let found = cache.get(file);
  if (!found) {
    found = readDirectives(file);
    cache.set(file, found);
  }
  return found;
}

function readDirectives(file: FileModel): FileSuppressions {
  const result: FileSuppressions = { directives: [], malformed: [] };
  // Cheap pre-check: most files have no directive at all.
  if (!file.text.includes('otpfix:')) return result;
  for (const comment of comments(file.tree.rootNode)) {
    const match = DIRECTIVE.exec(comment.text.trim());
    if (!match) continue;
    const [, verb, rest] = match;
    const line = comment.startPosition.row + 1;
    const column = comment.startPosition.column + 1;
    const where = { file: file.path, relPath: file.relPath, line, column };
    const rules = rest
      .replace(/\s--(\s.*)?$/, '') // `-- reason` is for the reader
      .split(/[\s,]+/)
      .filter(Boolean);
    if (verb === 'disable-file') result.directives.push({ ...where, kind: 'file', rules });
    else if (verb === 'disable-next-line') {
      if (!rules.length) result.malformed.push({ ...where, message: 'otpfix:disable-next-line needs at least one rule id' });
      else result.directives.push({ ...where, kind: 'next-line', rules, targetLine: line + 1 });
    } else
      result.malformed.push({
        ...where,
        message: `unknown directive "otpfix:${verb}" (use otpfix:disable-next-line <rule> or otpfix:disable-file [<rule>])`,
      });
  }
  return result;
}

function comments(root: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const visit = (node: SyntaxNode): void => {
    if (node.type === 'comment') out.push(node);
    for (const child of node.children) visit(child);
  };
  visit(root);
  return out;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

export interface SuppressedFinding {
  finding: Finding;
  by: Suppression;
}

/** Split a file's findings into those that stand and those a directive silences. */
export function applySuppressions(file: FileModel, findings: Finding[]): { kept: Finding[]; suppressed: SuppressedFinding[] } {
  const { directives } = suppressionsOf(file);
  if (!directives.length) return { kept: findings, suppressed: [] };
  const kept: Finding[] = [];
  const suppressed: SuppressedFinding[] = [];
  for (const f of findings) {
    const line = lineOf(file.text, f.start);
    const by = directives.find(
      (d) =>
        (d.rules.length === 0 || d.rules.includes(f.ruleId)) && (d.kind === 'file' || d.targetLine === line),
    );
    if (by) suppressed.push({ finding: f, by });
    else kept.push(f);
  }
  return { kept, suppressed };
}

export interface SuppressionNotice {
  file: string;
  relPath: string;
  line: number;
  column: number;
  /** `unused`: silenced nothing in this run; `unknown-rule`: names no rule; `malformed`: not understood. */
  kind: 'unused' | 'unknown-rule' | 'malformed';
  rule?: string;
  message: string;
}

export interface NoticeContext {
  /** Every rule id otpfix knows. */
  known: Set<string>;
  /** The rules that ran; a directive for a rule that did not run cannot be judged unused. */
  active: Set<string>;
}

/**
 * Directives that silenced nothing (for rules that ran), name unknown rules, or are malformed.
 * `files` are the models detection ran on; `suppressed` what it silenced there.
 */
export function suppressionNotices(files: FileModel[], suppressed: SuppressedFinding[], ctx: NoticeContext): SuppressionNotice[] {
  const used = new Map<Suppression, Set<string>>();
  for (const s of suppressed) used.set(s.by, (used.get(s.by) ?? new Set()).add(s.finding.ruleId));
  const notices: SuppressionNotice[] = [];
  const everyRuleRan = [...ctx.known].every((id) => ctx.active.has(id));
  for (const file of files) {
    const { directives, malformed } = suppressionsOf(file);
    for (const m of malformed) notices.push({ ...m, kind: 'malformed' });
    for (const d of directives) {
      const at = { file: d.file, relPath: d.relPath, line: d.line, column: d.column };
      const silenced = used.get(d) ?? new Set<string>();
      const form = d.kind === 'file' ? 'otpfix:disable-file' : 'otpfix:disable-next-line';
      if (!d.rules.length) {
        if (!silenced.size && everyRuleRan)
          notices.push({ ...at, kind: 'unused', message: `unused suppression: ${form} silenced no finding` });
        continue;
      }
      for (const rule of d.rules) {
        if (!ctx.known.has(rule))
          notices.push({ ...at, kind: 'unknown-rule', rule, message: `${form} names an unknown rule "${rule}"` });
        else if (ctx.active.has(rule) && !silenced.has(rule))
          notices.push({
            ...at,
            kind: 'unused',
            rule,
            message: `unused suppression: ${form} ${rule} silenced no finding${d.kind === 'next-line' ? ` on line ${d.targetLine}` : ''}`,
          });
      }
    }
  }
  return notices;
}
