/**
 * Variables: which names a pattern binds and which names a run of statements reads from the scope
 * around it (its free variables), following Elixir's scoping: `case`/`fn`/`receive` clause patterns
 * and `with`/`for` generators bind only inside their clause; `=` at statement level binds for the
 * statements after it; `^x` reads `x`.
 */
import type { SyntaxNode } from '../parse.js';
import { binaryOperator, callIdentifier, codeChildren } from '../query.js';

const NOT_VARIABLES = new Set(['__MODULE__', '__ENV__', '__CALLER__', '__DIR__', '__STACKTRACE__', '_']);

/** Names bound by a pattern (`{:ok, %{a: a} = b}` → a, b); pinned names are not bound. */
export function patternVariables(pattern: SyntaxNode): Set<string> {
  const out = new Set<string>();
  const visit = (n: SyntaxNode): void => {
    if (n.type === 'identifier') {
      if (!NOT_VARIABLES.has(n.text)) out.add(n.text);
      return;
    }
    if (n.type === 'unary_operator') {
      const op = n.child(0)?.type;
      if (op === '^' || op === '@') return;
    }
    if (n.type === 'call') {
      // A call inside a pattern is a guard-free construct like `<<x::binary>>` sizes; only its arguments bind.
      for (const c of n.namedChildren) if (c.type === 'arguments') codeChildren(c).forEach(visit);
      return;
    }
    if (n.type === 'binary_operator' && binaryOperator(n) === 'when') {
      const left = n.childForFieldName('left');
      if (left) visit(left);
      return;
    }
    if (n.type === 'keyword' || n.type === 'atom' || n.type === 'alias') return;
    n.namedChildren.forEach(visit);
  };
  visit(pattern);
  return out;
}

/** Names an expression or run of statements reads from the enclosing scope, in first-use order. */
export function freeVariables(statements: SyntaxNode[], bound: Set<string> = new Set()): Set<string> {
  const free = new Set<string>();
  const scope = new Set(bound);
  for (const stmt of statements) {
    expr(stmt, scope, free);
    bindStatement(stmt, scope);
  }
  return free;
}

/** Names bound at statement level by a run of statements (visible after them). */
export function boundVariables(statements: SyntaxNode[]): Set<string> {
  const scope = new Set<string>();
  for (const stmt of statements) bindStatement(stmt, scope);
  return scope;
}

function bindStatement(stmt: SyntaxNode, scope: Set<string>): void {
  for (let n: SyntaxNode | null = stmt; n && binaryOperator(n) === '='; n = n.childForFieldName('right')) {
    const left = n.childForFieldName('left');
    if (left) for (const v of patternVariables(left)) scope.add(v);
  }
}

function use(name: string, scope: Set<string>, free: Set<string>): void {
  if (!NOT_VARIABLES.has(name) && !name.startsWith('_') && !scope.has(name)) free.add(name);
}

/** Reads in a pattern: pins, and guards. */
function patternReads(pattern: SyntaxNode, scope: Set<string>, free: Set<string>): void {
  for (const n of pattern.descendantsOfType('unary_operator'))
    if (n.child(0)?.type === '^') {
      const operand = n.childForFieldName('operand');
      if (operand?.type === 'identifier') use(operand.text, scope, free);
    }
}

function expr(n: SyntaxNode, scope: Set<string>, free: Set<string>): void {
  switch (n.type) {
    case 'identifier':
      use(n.text, scope, free);
      return;
    case 'comment':
    case 'atom':
    case 'keyword':
    case 'alias':
    case 'integer':
    case 'float':
    case 'string':
    case 'charlist':
      if (n.type === 'string' || n.type === 'charlist') for (const i of n.namedChildren) if (i.type === 'interpolation') i.namedChildren.forEach((c) => expr(c, scope, free));
      return;
    case 'unary_operator': {
      const op = n.child(0)?.type;
      if (op === '@') return;
      n.namedChildren.forEach((c) => expr(c, scope, free));
      return;
    }
    case 'binary_operator': {
      const op = binaryOperator(n);
      const left = n.childForFieldName('left');
      const right = n.childForFieldName('right');
      if (op === '=' && left && right) {
        expr(right, scope, free);
        patternReads(left, scope, free);
        return;
      }
      if (left) expr(left, scope, free);
      if (right) expr(right, scope, free);
      return;
    }
    case 'anonymous_function':
      for (const clause of n.namedChildren.filter((c) => c.type === 'stab_clause')) stab(clause, scope, free, false);
      return;
    case 'call':
      call(n, scope, free);
      return;
    default:
      n.namedChildren.forEach((c) => expr(c, scope, free));
  }
}

function call(n: SyntaxNode, scope: Set<string>, free: Set<string>): void {
  const id = callIdentifier(n);
  const target = n.childForFieldName('target');
  const args = n.namedChildren.find((c) => c.type === 'arguments');
  const block = n.namedChildren.find((c) => c.type === 'do_block');
  if (id === 'for' || id === 'with') {
    // Generators bind for the ones after them and for the body.
    const inner = new Set(scope);
    for (const arg of args ? codeChildren(args) : []) {
      if (arg.type === 'keywords') {
        for (const pair of arg.namedChildren) {
          const value = pair.childForFieldName('value');
          const key = pair.childForFieldName('key')?.text.trim();
          if (!value) continue;
          if (key === 'do:') expr(value, inner, free);
          else expr(value, scope, free);
        }
        continue;
      }
      const op = binaryOperator(arg);
      const left = arg.childForFieldName('left');
      const right = arg.childForFieldName('right');
      if ((op === '<-' || op === '=') && left && right) {
        expr(right, inner, free);
        patternReads(left, inner, free);
        for (const v of patternVariables(left)) inner.add(v);
      } else expr(arg, inner, free);
    }
    if (block) doBlockVars(block, inner, scope, free, id);
    return;
  }
  if (target?.type === 'dot') {
    const left = target.childForFieldName('left');
    if (left) expr(left, scope, free);
  } else if (target && target.type !== 'identifier') expr(target, scope, free);
  if (args) codeChildren(args).forEach((c) => expr(c, scope, free));
  if (block) doBlockVars(block, scope, scope, free, id);
}

/** A `do` block: plain statements, or stab clauses (`case`, `receive`, `cond`, `else`, `rescue`). */
function doBlockVars(block: SyntaxNode, bodyScope: Set<string>, outerScope: Set<string>, free: Set<string>, id: string | undefined): void {
  const sections = [block, ...block.namedChildren.filter((c) => c.type.endsWith('_block'))];
  for (const section of sections) {
    const isMain = section.id === block.id;
    const clauses = section.namedChildren.filter((c) => c.type === 'stab_clause');
    const scope = isMain ? bodyScope : outerScope;
    if (clauses.length) {
      for (const c of clauses) stab(c, scope, free, isMain && id === 'cond');
    } else {
      const stmts = section.namedChildren.filter((c) => !c.type.endsWith('_block') && c.type !== 'comment');
      for (const v of freeVariables(stmts, scope)) free.add(v);
    }
  }
}

function stab(clause: SyntaxNode, scope: Set<string>, free: Set<string>, leftIsExpr: boolean): void {
  const left = clause.childForFieldName('left');
  const right = clause.childForFieldName('right');
  const inner = new Set(scope);
  if (left) {
    if (leftIsExpr) expr(left, scope, free);
    else {
      let pattern = left;
      if (binaryOperator(left) === 'when') {
        pattern = left.childForFieldName('left')!;
        const guard = left.childForFieldName('right');
        for (const v of patternVariables(pattern)) inner.add(v);
        if (guard) expr(guard, inner, free);
      }
      patternReads(pattern, scope, free);
      for (const v of patternVariables(pattern)) inner.add(v);
    }
  }
  if (right) for (const v of freeVariables(codeChildren(right), inner)) free.add(v);
}

/** Variables a statement binds at its own level: the left sides of `a = b = expr`. */
export function statementBindings(statement: SyntaxNode): Set<string> {
  return boundVariables([statement]);
}

/** Every variable name an expression mentions (a superset of what it reads: enough to carry values). */
export function variablesRead(nodes: SyntaxNode[]): Set<string> {
  const out = new Set<string>();
  for (const root of nodes)
    for (const node of root.descendantsOfType('identifier')) if (isVariableNode(node) && !node.text.startsWith('_')) out.add(node.text);
  return out;
}

function isVariableNode(node: SyntaxNode): boolean {
  if (NOT_VARIABLES.has(node.text)) return false;
  const parent = node.parent;
  if (!parent) return true;
  // f(x) target, map.field, &fun/2, @attr
  if (parent.type === 'call' && parent.childForFieldName('target')?.id === node.id) return false;
  if (parent.type === 'dot' && parent.childForFieldName('right')?.id === node.id) return false;
  if (parent.type === 'unary_operator' && parent.child(0)?.type === '@') return false;
  if (binaryOperator(parent) === '/' && parent.parent?.type === 'unary_operator' && parent.parent.child(0)?.type === '&')
    return parent.childForFieldName('left')?.id !== node.id;
  return true;
}

/** Every identifier in a subtree, to pick fresh names that shadow nothing. */
export function identifiersIn(node: SyntaxNode): Set<string> {
  return new Set(node.descendantsOfType('identifier').map((n) => n.text));
}

export function freshName(preferred: string[], taken: Set<string>): string {
  for (const name of preferred) if (!taken.has(name)) return name;
  for (let i = 2; ; i++) if (!taken.has(`${preferred[0]}${i}`)) return `${preferred[0]}${i}`;
}

/**
 * A pattern's text with every variable it binds but `keep` does not list prefixed by `_` (so the
 * compiler stays quiet). A variable bound more than once in the same match (this pattern and
 * `sameMatch`, the other parameters of the head) is left alone: the repeat is an equality test the
 * compiler counts as a use, and `_name` twice in one match is a warning of its own.
 */
export function underscoreUnused(pattern: SyntaxNode, keep: Set<string>, sameMatch: SyntaxNode[] = []): string {
  const vars = patternVariables(pattern);
  const counts = new Map<string, number>();
  for (const p of [pattern, ...sameMatch])
    for (const n of p.descendantsOfType('identifier')) if (isBound(n)) counts.set(n.text, (counts.get(n.text) ?? 0) + 1);
  const base = pattern.startIndex;
  const text = pattern.text;
  let out = '';
  let pos = 0;
  for (const n of pattern.descendantsOfType('identifier')) {
    if (!vars.has(n.text) || keep.has(n.text) || n.text.startsWith('_') || (counts.get(n.text) ?? 0) > 1) continue;
    const parent = n.parent;
    if (parent?.type === 'call' && parent.childForFieldName('target')?.id === n.id) continue;
    if (parent?.type === 'dot' && parent.childForFieldName('right')?.id === n.id) continue;
    if (parent?.type === 'unary_operator' && parent.child(0)?.type === '^') continue;
    out += text.slice(pos, n.startIndex - base) + `_${n.text}`;
    pos = n.endIndex - base;
  }
  return out + text.slice(pos);
}

/** An identifier that binds (or matches) a variable in a pattern: not a call name, field or pin. */
function isBound(n: SyntaxNode): boolean {
  const parent = n.parent;
  if (parent?.type === 'call' && parent.childForFieldName('target')?.id === n.id) return false;
  if (parent?.type === 'dot' && parent.childForFieldName('right')?.id === n.id) return false;
  if (parent?.type === 'unary_operator' && parent.child(0)?.type === '^') return false;
  return true;
}
