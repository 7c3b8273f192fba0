/**
 * Intra-clause data and control dependence, syntax only: which variables carry a value read by a
 * call, which conditionals a later statement sits under, and whether a statement's value is used.
 * Approximate by design (no shadowing analysis), tuned to say "depends" only when the code shows it.
 */
import type { SyntaxNode } from '../parse.js';
import { binaryOperator, callArguments, callIdentifier, codeChildren, descendants, doBlock, isInside } from '../query.js';

/** Variables a pattern binds (`{^key, count, _}` → count). Pinned and `_` variables are not bound. */
export function patternVars(pattern: SyntaxNode): string[] {
  const out: string[] = [];
  for (const n of descendants(pattern)) {
    if (n.type !== 'identifier' || n.text.startsWith('_')) continue;
    const parent = n.parent;
    if (parent?.type === 'unary_operator' && parent.child(0)?.type === '^') continue;
    if (parent?.type === 'call' && parent.childForFieldName('target')?.id === n.id) continue;
    if (parent?.type === 'dot') continue;
    out.push(n.text);
  }
  return out;
}

function isCallTarget(n: SyntaxNode): boolean {
  const parent = n.parent;
  return parent?.type === 'call' && parent.childForFieldName('target')?.id === n.id;
}

/** The stab clauses of a `case`/`cond`/`with`/`fn` do-block, or of an `else` block. */
function stabsOf(block: SyntaxNode): SyntaxNode[] {
  return block.namedChildren.filter((c) => c.type === 'stab_clause');
}

/** The first pattern of a stab clause and its `when` guard (`[{k, v}] when v > 0 ->`). */
export function stabHead(stab: SyntaxNode): { pattern?: SyntaxNode; guard?: SyntaxNode } {
  let left = stab.childForFieldName('left');
  let guard: SyntaxNode | undefined;
  if (left && binaryOperator(left) === 'when') {
    guard = left.childForFieldName('right') ?? undefined;
    left = left.childForFieldName('left');
  }
  if (!left) return {};
  return { pattern: left.type === 'arguments' ? codeChildren(left)[0] : left, guard };
}

function stabPattern(stab: SyntaxNode): SyntaxNode | undefined {
  return stabHead(stab).pattern;
}

interface Binding {
  name: string;
  /** Visible after this offset ... */
  from: number;
  /** ... within this node. */
  scope: SyntaxNode;
  /** The bound value: the right side of `=`/`<-`, the subject of a `case`. */
  value?: SyntaxNode;
  tainted: boolean;
}

/**
 * Which variables carry the value of `source` (a call) within `body`: bound by `x = ...source...`,
 * by the patterns of a `case source do` (within that clause) or `with pat <- source`, and through
 * later bindings that use them. Scoped: a later `x = other()` or a case clause binding `x` from
 * something else shadows the tainted `x`.
 */
export class Taint {
  private readonly bindings: Binding[] = [];

  constructor(
    readonly source: SyntaxNode,
    readonly body: SyntaxNode,
  ) {
    for (const n of descendants(body)) {
      const op = binaryOperator(n);
      if (op === '=' || op === '<-') {
        const left = n.childForFieldName('left');
        const right = n.childForFieldName('right');
        if (!left || !right) continue;
        const scope = op === '<-' ? (n.parent?.parent ?? body) : blockOf(n, body);
        for (const name of patternVars(left)) this.bindings.push({ name, from: n.endIndex, scope, value: right, tainted: false });
      } else if (callIdentifier(n) === 'case') {
        const subject = callArguments(n)[0];
        const block = doBlock(n);
        if (!subject || !block) continue;
        for (const stab of stabsOf(block)) {
          const pattern = stabPattern(stab);
          if (pattern) for (const name of patternVars(pattern)) this.bindings.push({ name, from: pattern.endIndex, scope: stab, value: subject, tainted: false });
        }
      } else if (n.type === 'anonymous_function') {
        for (const stab of stabsOf(n)) {
          const pattern = stabPattern(stab);
          if (pattern) for (const name of patternVars(pattern)) this.bindings.push({ name, from: pattern.endIndex, scope: stab, tainted: false });
        }
      }
    }
    this.bindings.sort((a, b) => a.from - b.from);
    for (let round = 0; round < 3; round++) {
      let changed = false;
      for (const b of this.bindings)
        if (!b.tainted && b.value && this.feeds(b.value)) {
          b.tainted = true;
          changed = true;
        }
      if (!changed) break;
    }
  }

  /** The expression contains the source or uses a variable carrying its value. */
  feeds(expr: SyntaxNode): boolean {
    if (isInside(this.source, expr)) return true;
    for (const n of descendants(expr)) if (n.type === 'identifier' && this.carries(n)) return true;
    return false;
  }

  /** This variable occurrence holds (part of) the source's value. */
  carries(ident: SyntaxNode): boolean {
    if (isCallTarget(ident)) return false;
    let best: Binding | undefined;
    for (const b of this.bindings)
      if (b.name === ident.text && b.from <= ident.startIndex && isInside(ident, b.scope) && (!best || b.from >= best.from)) best = b;
    return !!best?.tainted;
  }

  get empty(): boolean {
    return !this.bindings.some((b) => b.tainted);
  }
}

/** The block a statement binds in: its enclosing do-block, stab body or the clause body. */
function blockOf(node: SyntaxNode, body: SyntaxNode): SyntaxNode {
  for (let n = node.parent; n; n = n.parent) {
    if (n.id === body.id) return body;
    if (['do_block', 'else_block', 'body', 'stab_clause'].includes(n.type)) return n;
  }
  return body;
}

export type BranchKind = 'hit' | 'miss' | 'compare' | 'other';

export interface Guarding {
  /** The conditional (`case`, `if`, `unless`, `cond`, `with`). */
  node: SyntaxNode;
  kind: string;
  /** How the branch holding the statement relates to the checked value. */
  branch: BranchKind;
  /** The stab clause holding the statement, for `case`/`cond`/`with`. */
  stab?: SyntaxNode;
}

const CONDITIONALS = new Set(['case', 'if', 'unless', 'cond', 'with', 'try']);
const COMPARISONS = new Set(['<', '<=', '>', '>=', '==', '!=', '===', '!==']);

/**
 * The conditionals between `stmt` and `body` (innermost first) whose condition depends on `source`
 * (contains it or uses a variable it taints), with the kind of branch `stmt` is in.
 */
export function guardsOn(stmt: SyntaxNode, taint: Taint): Guarding[] {
  const { body } = taint;
  const out: Guarding[] = [];
  const feeds = (expr: SyntaxNode) => taint.feeds(expr);
  for (let n = stmt.parent; n && n.id !== body.id; n = n.parent) {
    const kind = callIdentifier(n);
    if (!kind || !CONDITIONALS.has(kind)) continue;
    if (kind === 'try') {
      // `try do :ets.lookup(t, k) else [] -> ... end`: the else clauses match the body's value.
      const block = doBlock(n);
      const elseBlock = block?.namedChildren.find((c) => c.type === 'else_block');
      if (!block || !elseBlock || !isInside(stmt, elseBlock) || !isInside(taint.source, block) || isInside(taint.source, elseBlock)) continue;
      let stab: SyntaxNode | undefined;
      for (let a = stmt.parent; a && a.id !== elseBlock.id; a = a.parent) if (a.type === 'stab_clause' && a.parent?.id === elseBlock.id) stab = a;
      out.push({ node: n, kind, branch: stab ? casePatternBranch(stab, elseBlock) : 'other', stab });
      continue;
    }
    const args = callArguments(n);
    const cond = args[0];
    if (!cond || isInside(stmt, cond)) continue;
    if (kind === 'case') {
      if (!feeds(cond)) continue;
      const stab = enclosingStab(stmt, n);
      out.push({ node: n, kind, branch: stab ? casePatternBranch(stab, n) : 'other', stab });
    } else if (kind === 'if' || kind === 'unless') {
      if (!feeds(cond)) continue;
      const inElse = inElseBranch(stmt, n);
      out.push({ node: n, kind, branch: ifBranch(cond, taint, kind === 'unless' ? !inElse : inElse) });
    } else if (kind === 'cond') {
      const stab = enclosingStab(stmt, n);
      if (!stab) continue;
      const block = doBlock(n)!;
      const upTo = stabsOf(block).filter((s) => s.startIndex <= stab.startIndex);
      const conditions = upTo.map(stabPattern).filter((c): c is SyntaxNode => !!c);
      if (!conditions.some(feeds)) continue;
      const own = stabPattern(stab);
      out.push({ node: n, kind, branch: own && isComparison(own, taint) ? 'compare' : 'other', stab });
    } else if (kind === 'with') {
      const clauses = args.filter((a) => binaryOperator(a) === '<-');
      if (!clauses.some((c) => feeds(c.childForFieldName('right')!))) continue;
      const inElse = inElseBranch(stmt, n);
      out.push({ node: n, kind, branch: inElse ? 'miss' : 'hit' });
    }
  }
  return out;
}

/** The clause of the conditional itself (not of a nested `case` or `fn`) that holds `stmt`. */
function enclosingStab(stmt: SyntaxNode, conditional: SyntaxNode): SyntaxNode | undefined {
  const block = doBlock(conditional);
  for (let n = stmt.parent; n && n.id !== conditional.id; n = n.parent) if (n.type === 'stab_clause' && n.parent?.id === block?.id) return n;
  return undefined;
}

function inElseBranch(stmt: SyntaxNode, conditional: SyntaxNode): boolean {
  for (let n: SyntaxNode | null = stmt; n && n.id !== conditional.id; n = n.parent) {
    if (n.type === 'else_block') return true;
    if (n.type === 'pair' && n.childForFieldName('key')?.text.trim().startsWith('else')) return true;
  }
  return false;
}

/** `[]`, `false`, `nil` (and `:"$end_of_table"`) → miss; one-element lists, `true` → hit; `_` after them → the opposite. */
function casePatternBranch(stab: SyntaxNode, caseNode: SyntaxNode): BranchKind {
  const kindOf = (pattern: SyntaxNode | undefined): BranchKind | undefined => {
    if (!pattern) return undefined;
    let p = pattern;
    if (binaryOperator(p) === '=') p = p.childForFieldName('left')!.type === 'identifier' ? p.childForFieldName('right')! : p.childForFieldName('left')!;
    if (p.type === 'list' && codeChildren(p).length === 0) return 'miss';
    if (p.type === 'boolean' && p.text === 'false') return 'miss';
    if (p.type === 'nil') return 'miss';
    if (p.type === 'list' || p.text === 'true' || p.type === 'tuple') return 'hit';
    return undefined;
  };
  const own = kindOf(stabPattern(stab));
  if (own) return own;
  const block = caseNode.type === 'else_block' ? caseNode : doBlock(caseNode);
  const earlier = block ? stabsOf(block).filter((s) => s.startIndex < stab.startIndex).map((s) => kindOf(stabPattern(s))) : [];
  if (earlier.includes('hit') && !earlier.includes('miss')) return 'miss';
  if (earlier.includes('miss') && !earlier.includes('hit')) return 'hit';
  return 'other';
}

/** The branch of an `if` on a checked value: `if :ets.member(t, k)` then-branch is a hit. */
function ifBranch(cond: SyntaxNode, taint: Taint, inElse: boolean): BranchKind {
  if (isEmptyCheck(cond)) {
    // `x == []` is true on a miss, `x != []` on a hit.
    const op = binaryOperator(cond);
    const missWhenTrue = op === '==' || op === '===';
    return missWhenTrue !== inElse ? 'miss' : 'hit';
  }
  if (isComparison(cond, taint)) return 'compare';
  let negated = false;
  let c = cond;
  while (c.type === 'unary_operator' && ['not', '!'].includes(c.child(0)?.type ?? '')) {
    negated = !negated;
    c = c.childForFieldName('operand')!;
  }
  if (c.id === taint.source.id || (c.type === 'identifier' && taint.carries(c))) return negated !== inElse ? 'miss' : 'hit';
  return 'other';
}

function isEmptyOperand(c: SyntaxNode): boolean {
  const l = c.childForFieldName('left');
  const r = c.childForFieldName('right');
  return [l, r].some((x) => x && ((x.type === 'list' && codeChildren(x).length === 0) || x.type === 'nil'));
}

function isEmptyCheck(c: SyntaxNode): boolean {
  const op = binaryOperator(c);
  return !!op && ['==', '!=', '===', '!=='].includes(op) && isEmptyOperand(c);
}

/** An ordering comparison (or a combination of them) that uses a tainted variable. */
export function isComparison(cond: SyntaxNode, taint: Taint): boolean {
  for (const n of descendants(cond)) {
    const op = binaryOperator(n);
    if (op && COMPARISONS.has(op) && !['==', '!=', '===', '!=='].includes(op) && taint.feeds(n)) return true;
  }
  return false;
}

/**
 * Whether the value of `node` (a statement) is thrown away: it is a statement of a block that is not
 * the block's last, or the last of a branch of a conditional whose own value is thrown away.
 */
export function valueDiscarded(node: SyntaxNode, stop: SyntaxNode): boolean {
  let n = node;
  for (;;) {
    const parent = n.parent;
    if (!parent || n.id === stop.id) return false;
    if (parent.type === 'do_block' || parent.type === 'else_block' || parent.type === 'body') {
      const stmts = codeChildren(parent).filter((c) => !c.type.endsWith('_block') && c.type !== 'stab_clause');
      if (stmts.length && stmts[stmts.length - 1].id !== n.id) return true;
    } else if (!(parent.type === 'pair' && parent.parent?.type === 'keywords')) return false;
    // The last statement of a branch: its value is the conditional's value.
    let container: SyntaxNode | null = parent;
    while (container && container.type !== 'call') container = container.parent;
    if (!container || container.id === stop.id || !CONDITIONALS.has(callIdentifier(container) ?? '')) return false;
    if (isInside(stop, container)) return false;
    n = container;
  }
}
