/**
 * Path sensitivity: on which path from an entry (a callback, a public function) a piece of code
 * runs. `normal` is what runs on an ordinary call; the others run only when something failed
 * (`error`: after `{:error, _}`, in a `with ... else`; `rescue`: in `rescue`/`catch`), in a retry
 * (`retry`: a retry helper or a retry message), or when an option that is off by default is on
 * (`option`). Rules keep their severity on the normal path and drop it on the others, saying which.
 */
import type { SyntaxNode } from '../parse.js';
import { callIdentifier } from '../query.js';
import type { Clause, FunctionDef } from './module.js';

export type PathKind = 'normal' | 'error' | 'rescue' | 'retry' | 'option';

export interface PathInfo {
  kind: PathKind;
  /** For messages: `after {:error, _}`, `in a rescue`, `in retry_connect/2`, `only when opts[:discovery] is set`. */
  why?: string;
}

export const NORMAL: PathInfo = { kind: 'normal' };

// A bare `:error` is not here: `Map.fetch` / `Access` misses (`:error -> fetch and cache`) are the normal path.
const ERROR_PATTERN = /^\{\s*:(error|exit|EXIT)\b/;
const RETRY_NAME = /retry|retries|backoff|reconnect|failover/i;

/** The path `node` is on within `root` (a clause body, or the whole clause). */
export function pathWithin(node: SyntaxNode, root: SyntaxNode): PathInfo {
  let child: SyntaxNode = node;
  for (let n = node.parent; n && n.id !== root.id; child = n, n = n.parent) {
    if (n.type === 'rescue_block' || n.type === 'catch_block') return { kind: 'rescue', why: `in a ${n.type === 'rescue_block' ? 'rescue' : 'catch'}` };
    if (n.type === 'else_block' && isWithElse(n)) return { kind: 'error', why: 'in the else of a with (a step failed)' };
    if (n.type === 'stab_clause' && child.id === n.childForFieldName('right')?.id) {
      const pattern = n.childForFieldName('left')?.text.trim();
      if (pattern && ERROR_PATTERN.test(pattern)) return { kind: 'error', why: `after ${shorten(pattern)}` };
      const option = caseOnOption(n, pattern);
      if (option) return { kind: 'option', why: `only when ${option} is set (off by default)` };
    }
    if (n.type === 'do_block' && child.type !== 'else_block' && n.parent?.type === 'call') {
      const option = optionCondition(n.parent);
      if (option) return { kind: 'option', why: `only when ${option} is set (off by default)` };
    }
  }
  return NORMAL;
}

/** The path a clause itself is on: a clause for `{:error, _}` or for a retry message. */
export function clausePath(clause: Clause): PathInfo {
  const first = clause.params[0]?.text.trim() ?? '';
  if (clause.params.some((p) => ERROR_PATTERN.test(p.text.trim())))
    return { kind: 'error', why: `in the clause for ${shorten(clause.params.find((p) => ERROR_PATTERN.test(p.text.trim()))!.text.trim())}` };
  if (clause.fn.isCallback && RETRY_NAME.test(first)) return { kind: 'retry', why: `in the retry message ${shorten(first)}` };
  return NORMAL;
}

/** A helper whose name says it retries (`retry_connect/2`, `with_backoff/1`). */
export function functionPath(fn: FunctionDef): PathInfo {
  return !fn.isCallback && RETRY_NAME.test(fn.name) ? { kind: 'retry', why: `in ${fn.name}/${fn.arity}` } : NORMAL;
}

/** The path of `node` in `clause`, counting the clause's own head. */
export function pathInClause(node: SyntaxNode, clause: Clause): PathInfo {
  const head = clausePath(clause);
  if (head.kind !== 'normal') return head;
  return pathWithin(node, clause.node);
}

/** The first rare path among several steps, else normal. */
export function combinePaths(paths: PathInfo[]): PathInfo {
  return paths.find((p) => p.kind !== 'normal') ?? NORMAL;
}

export function isRare(path: PathInfo): boolean {
  return path.kind !== 'normal';
}

/** The clause of `fn` that holds `node`. */
export function clauseHolding(fn: FunctionDef, node: SyntaxNode): Clause | undefined {
  return fn.clauses.find((c) => c.node.startIndex <= node.startIndex && node.endIndex <= c.node.endIndex);
}

function isWithElse(elseBlock: SyntaxNode): boolean {
  const call = elseBlock.parent?.parent;
  return !!call && call.type === 'call' && callIdentifier(call) === 'with';
}

/**
 * `if opts[:x]`, `if Keyword.get(opts, :x, false)`, `if Application.get_env(:app, :x)`: an option
 * that is off unless set. Returns the condition's text, or undefined.
 */
function optionCondition(call: SyntaxNode): string | undefined {
  const id = callIdentifier(call);
  if (id !== 'if' && id !== 'unless') return undefined;
  const cond = call.childForFieldName('arguments')?.namedChildren[0] ?? call.namedChildren.find((c) => c.type === 'arguments')?.namedChildren[0];
  if (!cond || id === 'unless') return undefined;
  const off = (m: RegExpExecArray | null) => !!m && (m[1] === undefined || /^(false|nil)$/.test(m[1].trim()));
  // `server? and conf[:code_reloader]`: one conjunct that is an option is enough.
  for (const part of cond.text.trim().split(/\s+(?:and|&&)\s+/)) {
    const text = part.trim();
    if (/^\w+\[:\w+\]$/.test(text)) return text;
    if (off(/^Keyword\.get\(\s*\w+\s*,\s*:\w+\s*(?:,\s*([^,()]+))?\)$/.exec(text))) return text;
    if (off(/^Application\.get_env\(\s*:\w+\s*,\s*[\w.:]+\s*(?:,\s*([^,()]+))?\)$/.exec(text))) return text;
  }
  return undefined;
}

/** `case opts[:node] do nil -> local; node -> remote end`: the non-nil clause runs only when the option is set. */
function caseOnOption(stab: SyntaxNode, pattern: string | undefined): string | undefined {
  if (!pattern || /^(nil|false)$/.test(pattern)) return undefined;
  const call = stab.parent?.type === 'do_block' ? stab.parent.parent : undefined;
  if (!call || call.type !== 'call' || callIdentifier(call) !== 'case') return undefined;
  const subject = call.namedChildren.find((c) => c.type === 'arguments')?.namedChildren[0];
  if (!subject || !isOptionRead(subject.text.trim())) return undefined;
  const others = stab.parent!.namedChildren.filter((c) => c.type === 'stab_clause' && c.id !== stab.id);
  return others.some((c) => /^(nil|false)$/.test(c.childForFieldName('left')?.text.trim() ?? '')) ? subject.text.trim() : undefined;
}

function isOptionRead(text: string): boolean {
  return /^\w+\[:\w+\]$/.test(text) || /^Keyword\.get\(\s*\w+\s*,\s*:\w+\s*(,\s*(nil|false)\s*)?\)$/.test(text);
}

function shorten(text: string): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > 40 ? `${one.slice(0, 37)}...` : one;
}

/**
 * Whether an exit raised at `node` (a `GenServer.call` timing out, a dead server) is caught on the
 * way up to `root`: inside the `do` of a `try` (or a `def ... catch`) whose `catch` takes exits.
 */
export function exitCaught(node: SyntaxNode, root: SyntaxNode): boolean {
  let child: SyntaxNode = node;
  for (let n = node.parent; n; child = n, n = n.parent) {
    if (n.type === 'do_block' && child.type !== 'catch_block' && child.type !== 'rescue_block' && child.type !== 'else_block' && child.type !== 'after_block') {
      const katch = n.namedChildren.find((c) => c.type === 'catch_block');
      if (katch && katch.namedChildren.some((c) => c.type === 'stab_clause' && catchesExit(c.childForFieldName('left')?.text.trim() ?? ''))) return true;
    }
    if (n.id === root.id) break;
  }
  return false;
}

/** `:exit, _`, `kind, reason`, `_, _`: a catch clause that takes exits (`:throw, x` / `x` alone do not). */
function catchesExit(pattern: string): boolean {
  const parts = pattern.split(',').map((p) => p.trim());
  if (parts.length < 2) return false;
  return parts[0] === ':exit' || /^_?[a-z]\w*$|^_$/.test(parts[0]);
}
