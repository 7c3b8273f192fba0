/**
 * Small, total helpers over tree-sitter-elixir nodes. Everything here is syntax only: it never
 * resolves aliases or knows about modules (that is the model's job).
 */
import type { SyntaxNode } from './parse.js';

/** Named children that are code (comments dropped). */
export function codeChildren(node: SyntaxNode): SyntaxNode[] {
  return node.namedChildren.filter((c) => c.type !== 'comment');
}

/** The identifier a local call or special form is called by (`def`, `case`, `foo` in `foo(x)`). */
export function callIdentifier(node: SyntaxNode): string | undefined {
  if (node.type !== 'call') return undefined;
  const target = node.childForFieldName('target');
  return target?.type === 'identifier' ? target.text : undefined;
}

/** The positional arguments of a call (comments dropped); a keyword tail counts as one argument. */
export function callArguments(node: SyntaxNode): SyntaxNode[] {
  const args = node.namedChildren.find((c) => c.type === 'arguments');
  return args ? codeChildren(args) : [];
}

export function doBlock(node: SyntaxNode): SyntaxNode | undefined {
  return node.namedChildren.find((c) => c.type === 'do_block');
}

/** The statements of a `do ... end` block, up to its first `else`/`after`/`rescue` section. */
export function blockStatements(block: SyntaxNode): SyntaxNode[] {
  return codeChildren(block).filter((c) => !c.type.endsWith('_block'));
}

/** For `stab_clause` nodes: the statements on the right of `->`. */
export function stabBody(clause: SyntaxNode): SyntaxNode[] {
  const body = clause.childForFieldName('right');
  return body ? codeChildren(body) : [];
}

export function stabClauses(block: SyntaxNode): SyntaxNode[] {
  return block.namedChildren.filter((c) => c.type === 'stab_clause');
}

export interface KeywordPair {
  key: string;
  pair: SyntaxNode;
  keyNode: SyntaxNode;
  value: SyntaxNode;
}

/** `[a: 1, b: 2]`, bare `a: 1, b: 2` (a `keywords` node) → pairs; anything else → undefined. */
export function keywordPairs(node: SyntaxNode | undefined): KeywordPair[] | undefined {
  if (!node) return undefined;
  let keywords: SyntaxNode | undefined;
  if (node.type === 'keywords') keywords = node;
  else if (node.type === 'list') {
    const items = codeChildren(node);
    if (items.length === 0) return [];
    if (items.length !== 1 || items[0].type !== 'keywords') return undefined;
    keywords = items[0];
  } else return undefined;
  const pairs: KeywordPair[] = [];
  for (const pair of keywords.namedChildren) {
    if (pair.type !== 'pair') continue;
    const keyNode = pair.childForFieldName('key');
    const value = pair.childForFieldName('value');
    if (!keyNode || !value) continue;
    pairs.push({ key: keywordText(keyNode), pair, keyNode, value });
  }
  return pairs;
}

/** `timeout: ` → `timeout`; `"some key": ` → `some key`. */
export function keywordText(keyNode: SyntaxNode): string {
  const quoted = keyNode.namedChildren.find((c) => c.type === 'quoted_content');
  if (quoted) return quoted.text;
  return keyNode.text.trim().replace(/:$/, '');
}

/** `:foo` → `foo`, `:"foo bar"` → `foo bar`; undefined for anything that is not a literal atom. */
export function atomValue(node: SyntaxNode | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type === 'atom') return node.text.slice(1);
  if (node.type === 'quoted_atom') {
    if (node.namedChildren.some((c) => c.type === 'interpolation')) return undefined;
    return node.namedChildren.find((c) => c.type === 'quoted_content')?.text ?? '';
  }
  if (node.type === 'boolean' || node.type === 'nil') return node.text;
  return undefined;
}

/** The pipe operand that feeds a call, when the call is the right-hand side of `|>`. */
export function pipedInto(call: SyntaxNode): SyntaxNode | undefined {
  const parent = call.parent;
  if (parent?.type !== 'binary_operator') return undefined;
  if (parent.childForFieldName('operator')?.type !== '|>') return undefined;
  if (parent.childForFieldName('right')?.id !== call.id) return undefined;
  return parent.childForFieldName('left') ?? undefined;
}

export function binaryOperator(node: SyntaxNode): string | undefined {
  return node.type === 'binary_operator' ? node.childForFieldName('operator')?.type : undefined;
}

/**
 * Every node of the subtree in source order, the node itself first; with `types`, only nodes of
 * those types.
 */
export function descendants(node: SyntaxNode, types?: string[]): Iterable<SyntaxNode> {
  return types ? node.descendantsOfType(types) : walkAll(node);
}

function* walkAll(node: SyntaxNode): Generator<SyntaxNode> {
  const stack: SyntaxNode[] = [node];
  while (stack.length) {
    const next = stack.pop()!;
    yield next;
    for (let i = next.children.length - 1; i >= 0; i--) stack.push(next.children[i]);
  }
}

export function isInside(node: SyntaxNode, container: SyntaxNode): boolean {
  return node.startIndex >= container.startIndex && node.endIndex <= container.endIndex;
}

/** Start offset of the line holding `offset`. */
export function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** The whitespace that indents the line holding `offset`. */
export function indentAt(text: string, offset: number): string {
  const start = lineStart(text, offset);
  return /^[ \t]*/.exec(text.slice(start))![0];
}

/** Re-indent a block of text: every non-empty line gets `indent` prepended. */
export function indentLines(code: string, indent: string): string {
  return code
    .split('\n')
    .map((l) => (l.trim() === '' ? '' : indent + l))
    .join('\n');
}

/** Remove the common leading indentation of a block of lines. */
export function dedent(code: string): string {
  const lines = code.split('\n');
  const widths = lines.filter((l) => l.trim() !== '').map((l) => /^[ ]*/.exec(l)![0].length);
  const min = widths.length ? Math.min(...widths) : 0;
  return lines.map((l) => l.slice(Math.min(min, /^[ ]*/.exec(l)![0].length))).join('\n');
}
