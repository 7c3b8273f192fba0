/**
 * Tail positions: the expressions whose value a body returns, through `case`, `cond`, `if`/`unless`
 * with `else`, `with` (its body and `else` clauses), `receive` and `try` (body, `rescue`, `catch`,
 * `else`), and callback return tuples (`{:reply, r, s}`, `{:noreply, s}`, `{:ok, s}`).
 */
import type { SyntaxNode } from '../parse.js';
import { blockStatements, callIdentifier, codeChildren, doBlock, keywordPairs, stabClauses } from '../query.js';

export interface Tails {
  nodes: SyntaxNode[];
  /** False when some path's value is not visible here (`if` without `else`, an empty clause). */
  complete: boolean;
}

const BRANCHING = new Set(['case', 'cond', 'if', 'unless', 'with', 'receive', 'try']);

/** The tail expressions of a run of statements (the value of its last statement). */
export function tailsOf(statements: SyntaxNode[]): Tails {
  const out: Tails = { nodes: [], complete: true };
  const visitStatements = (stmts: SyntaxNode[]): void => {
    const last = stmts[stmts.length - 1];
    if (!last) out.complete = false;
    else visit(last);
  };
  const visit = (node: SyntaxNode): void => {
    const id = callIdentifier(node);
    if (!id || !BRANCHING.has(id)) {
      out.nodes.push(node);
      return;
    }
    const block = doBlock(node);
    if (!block) {
      // `if c, do: a, else: b`
      const pairs = keywordPairs(codeChildren(node.namedChildren.find((c) => c.type === 'arguments')!).pop());
      const doValue = pairs?.find((p) => p.key === 'do')?.value;
      const elseValue = pairs?.find((p) => p.key === 'else')?.value;
      if (!doValue) return void out.nodes.push(node);
      visit(doValue);
      if (elseValue) visit(elseValue);
      else if (id !== 'with') out.complete = false;
      return;
    }
    const sections = [block, ...block.namedChildren.filter((c) => c.type.endsWith('_block') && c.type !== 'after_block')];
    // `receive ... after` returns the after clause's value on timeout.
    if (id === 'receive') sections.push(...block.namedChildren.filter((c) => c.type === 'after_block'));
    for (const section of sections) {
      const clauses = stabClauses(section);
      if (clauses.length)
        for (const c of clauses) {
          const right = c.childForFieldName('right');
          visitStatements(right ? codeChildren(right) : []);
        }
      else visitStatements(blockStatements(section).filter((n) => n.type !== 'comment'));
    }
    if ((id === 'if' || id === 'unless') && !block.namedChildren.some((c) => c.type === 'else_block')) out.complete = false;
  };
  visitStatements(statements);
  return out;
}

/** The elements of a tuple node, or undefined. */
export function tupleItems(node: SyntaxNode): SyntaxNode[] | undefined {
  return node.type === 'tuple' ? codeChildren(node) : undefined;
}

/** `{:tag, ...}` → `tag`. */
export function tupleTag(node: SyntaxNode): string | undefined {
  const first = tupleItems(node)?.[0];
  return first?.type === 'atom' ? first.text.slice(1) : undefined;
}

/** Calls that never return a value (their tail needs no rewriting). */
export function isRaise(node: SyntaxNode): boolean {
  return ['raise', 'reraise', 'throw', 'exit'].includes(callIdentifier(node) ?? '');
}
