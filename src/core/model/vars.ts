/**
 * Variables: which a pattern binds and which an expression reads. Enough to carry the right
 * variables when code moves to another function or process; a superset is safe, a missing one is not.
 */
import type { SyntaxNode } from '../parse.js';
import { binaryOperator, descendants } from '../query.js';

const NOT_VARIABLES = new Set(['__MODULE__', '__ENV__', '__CALLER__', '__DIR__', '__STACKTRACE__', '_']);

function isVariableNode(node: SyntaxNode): boolean {
  if (node.type !== 'identifier' || NOT_VARIABLES.has(node.text)) return false;
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

/** Variables a pattern binds (pins `^x` and `_`-prefixed names excluded). */
export function patternVariables(pattern: SyntaxNode): Set<string> {
  const out = new Set<string>();
  for (const node of descendants(pattern, ['identifier'])) {
    if (!isVariableNode(node) || node.text.startsWith('_')) continue;
    if (node.parent?.type === 'unary_operator' && node.parent.child(0)?.type === '^') continue;
    out.add(node.text);
  }
  return out;
}

/** Variables a statement binds at its own level: the left sides of `a = b = expr`. */
export function statementBindings(statement: SyntaxNode): Set<string> {
  const out = new Set<string>();
  for (let s: SyntaxNode | null = statement; s && binaryOperator(s) === '='; s = s.childForFieldName('right')) {
    const left = s.childForFieldName('left');
    if (left) for (const v of patternVariables(left)) out.add(v);
  }
  return out;
}

/** Variables an expression reads (a superset: names bound inside nested clauses count too). */
export function variablesRead(nodes: SyntaxNode[]): Set<string> {
  const out = new Set<string>();
  for (const root of nodes)
    for (const node of descendants(root, ['identifier'])) if (isVariableNode(node) && !node.text.startsWith('_')) out.add(node.text);
  return out;
}

/** Every identifier in a subtree, to pick fresh names that shadow nothing. */
export function identifiersIn(node: SyntaxNode): Set<string> {
  const out = new Set<string>();
  for (const n of descendants(node, ['identifier'])) if (n.type === 'identifier') out.add(n.text);
  return out;
}

export function freshName(preferred: string[], taken: Set<string>): string {
  for (const name of preferred) if (!taken.has(name)) return name;
  for (let i = 2; ; i++) if (!taken.has(`${preferred[0]}${i}`)) return `${preferred[0]}${i}`;
}
