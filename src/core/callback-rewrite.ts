/**
 * Rewriting GenServer callbacks and calls: the return positions of a clause, whether a call's value
 * is used, turning a `GenServer.call` into a `GenServer.cast` and deriving a `handle_cast` clause from
 * the `handle_call` clause that answers the same request.
 */
import type { Clause, FileModel, ModuleDef } from './model/module.js';
import type { SyntaxNode } from './parse.js';
import { atomValue, binaryOperator, blockStatements, callIdentifier, codeChildren, dedent, indentAt, keywordPairs, lineStart, stabClauses } from './query.js';
import { clauseText, definitionStart, displayWidth, isCatchAll, LINE_LENGTH, memberIndent, newClausePlacement } from './rewrite.js';
import type { Edit } from './types.js';

/** The expressions whose value a clause body returns (through case/cond/if/with/try/receive). */
export function tailExpressions(body: SyntaxNode, oneLiner: boolean): SyntaxNode[] {
  const stmts = oneLiner ? [body] : blockStatements(body);
  const last = stmts[stmts.length - 1];
  return last ? tailsOf(last) : [];
}

function tailsOf(expr: SyntaxNode): SyntaxNode[] {
  if (expr.type === 'block') {
    const items = codeChildren(expr);
    return items.length ? tailsOf(items[items.length - 1]) : [expr];
  }
  const id = expr.type === 'call' ? callIdentifier(expr) : undefined;
  if (!id || !['case', 'cond', 'if', 'unless', 'with', 'try', 'receive'].includes(id)) return [expr];
  const out: SyntaxNode[] = [];
  const block = expr.namedChildren.find((c) => c.type === 'do_block');
  const kw = keywordPairs(codeChildren(expr.namedChildren.find((c) => c.type === 'arguments') ?? expr).at(-1));
  if (!block) {
    // if x, do: a, else: b
    for (const p of kw ?? []) if (p.key === 'do' || p.key === 'else') out.push(...tailsOf(p.value));
    if ((id === 'if' || id === 'unless') && !(kw ?? []).some((p) => p.key === 'else')) out.push(expr);
    return out.length ? out : [expr];
  }
  const sections = [block, ...block.namedChildren.filter((c) => c.type.endsWith('_block') && (c.type !== 'after_block' || id === 'receive'))];
  const hasElse = block.namedChildren.some((c) => c.type === 'else_block');
  for (const section of sections) {
    const stabs = stabClauses(section);
    if (stabs.length) {
      for (const stab of stabs) {
        const body = stab.childForFieldName('right');
        const items = body ? codeChildren(body) : [];
        if (items.length) out.push(...tailsOf(items[items.length - 1]));
      }
    } else {
      const items = blockStatements(section);
      // `try do` + `else`: the do-body's value feeds the else clauses.
      if (section === block && id === 'try' && hasElse) continue;
      if (items.length) out.push(...tailsOf(items[items.length - 1]));
    }
  }
  if ((id === 'if' || id === 'unless') && !hasElse) out.push(expr);
  return out;
}

const STATEMENT_CONTAINERS = new Set(['do_block', 'body', 'block', 'else_block', 'after_block', 'rescue_block', 'catch_block']);

/** The expression a call's value flows into: the call, or the pipeline it ends. */
export function valueNode(call: SyntaxNode): SyntaxNode {
  let node = call;
  while (node.parent && binaryOperator(node.parent) === '|>' && node.parent.childForFieldName('right')?.id === node.id) node = node.parent;
  return node;
}

/**
 * Whether the value of `expr` is thrown away when `root` runs, given that the value of `root` itself
 * is ignored (a telemetry handler's return value is).
 */
export function valueDiscarded(expr: SyntaxNode, root: SyntaxNode): boolean {
  let node = valueNode(expr);
  for (let guard = 0; guard < 50; guard++) {
    if (node.id === root.id) return true;
    const parent = node.parent;
    if (!parent) return false;
    if (binaryOperator(parent) === '=') {
      const left = parent.childForFieldName('left');
      return parent.childForFieldName('right')?.id === node.id && left?.type === 'identifier' && left.text.startsWith('_');
    }
    if (STATEMENT_CONTAINERS.has(parent.type)) {
      const code = codeChildren(parent).filter((c) => !c.type.endsWith('_block') && c.type !== 'stab_clause');
      if (code[code.length - 1]?.id !== node.id) return true;
      if (parent.id === root.id) return true;
      // The last statement: its value is the enclosing construct's value.
      let up: SyntaxNode | null = parent.parent;
      while (up && up.type !== 'call' && up.type !== 'anonymous_function' && up.id !== root.id) up = up.parent;
      if (!up || up.type === 'anonymous_function') return false;
      if (up.id === root.id) return true;
      node = up;
      continue;
    }
    if (parent.type === 'pair') {
      const key = parent.childForFieldName('key')?.text.trim();
      if (key !== 'do:' && key !== 'else:') return false;
      const call = parent.parent?.parent?.parent; // pair → keywords → arguments → call
      if (call?.type !== 'call' || !['if', 'unless'].includes(callIdentifier(call) ?? '')) return false;
      node = call;
      continue;
    }
    return false;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// call → cast

const CAST_OF: Record<string, string> = {
  'GenServer.call': 'cast',
  ':gen_server.call': 'cast',
  'GenStage.call': 'cast',
};

export function castable(primitive: string): boolean {
  return primitive in CAST_OF;
}

/**
 * The text of `call` rewritten as a cast: `.call` → `.cast`, the timeout argument dropped. A call
 * laid out one argument per line is joined when the cast fits on its line, as the formatter would.
 */
export function castText(file: FileModel, call: SyntaxNode, timeout: SyntaxNode | undefined): string {
  const target = call.childForFieldName('target');
  const right = target?.childForFieldName('right');
  if (!right) return call.text;
  const base = call.startIndex;
  let text = file.text.slice(base, call.endIndex);
  const cuts: Array<[number, number, string]> = [[right.startIndex - base, right.endIndex - base, 'cast']];
  if (timeout) {
    const prev = timeout.previousSibling; // the comma
    const start = prev?.type === ',' ? prev.startIndex : timeout.startIndex;
    let end = timeout.endIndex;
    // A trailing comma/newline before `)` in a multi-line call stays with the previous argument.
    const next = timeout.nextSibling;
    if (next?.type === ',') end = next.endIndex;
    cuts.push([start - base, end - base, '']);
  }
  for (const [s, e, t] of cuts.sort((a, b) => b[0] - a[0])) text = text.slice(0, s) + t + text.slice(e);
  if (!text.includes('\n')) return text;
  // Multi-line argument list: join it when the cast fits on one line.
  const args = call.namedChildren.find((c) => c.type === 'arguments');
  if (!args) return text;
  const items = codeChildren(args).filter((a) => a.id !== timeout?.id);
  if (items.some((a) => a.text.includes('\n'))) return text;
  const head = file.text.slice(base, args.startIndex).replace(/\.call\b/, '.cast').replace(/call$/, 'cast');
  const joined = `${head}(${items.map((a) => a.text).join(', ')})`;
  const lineHead = file.text.slice(lineStart(file.text, base), base);
  const after = file.text.slice(call.endIndex, file.text.indexOf('\n', call.endIndex) === -1 ? file.text.length : file.text.indexOf('\n', call.endIndex));
  return displayWidth(lineHead + joined + after) <= LINE_LENGTH ? joined : text;
}

/**
 * Unwrap `try do <call> catch :exit, ... -> ... end` around a call that can no longer exit (a cast):
 * the try whose body is only that call and whose handlers only catch exits. Returns the try node.
 */
export function exitOnlyTry(call: SyntaxNode): SyntaxNode | undefined {
  const stmt = valueNode(call);
  const block = stmt.parent;
  if (block?.type !== 'do_block') return undefined;
  const tryCall = block.parent;
  if (tryCall?.type !== 'call' || callIdentifier(tryCall) !== 'try') return undefined;
  const stmts = blockStatements(block);
  if (stmts.length !== 1 || stmts[0].id !== stmt.id) return undefined;
  const sections = block.namedChildren.filter((c) => c.type.endsWith('_block'));
  if (sections.length !== 1 || sections[0].type !== 'catch_block') return undefined;
  for (const stab of stabClauses(sections[0])) {
    const left = stab.childForFieldName('left');
    const first = left ? (left.type === 'arguments' ? codeChildren(left)[0] : left) : undefined;
    if (atomValue(first) !== 'exit' || codeChildren(left!).length !== 2) return undefined;
  }
  return tryCall;
}

/** Re-indent `text` (whose first line starts at column `fromIndent`) to start at `toIndent`. */
export function reindent(text: string, fromIndent: string, toIndent: string): string {
  return text
    .split('\n')
    .map((line, i) => (i === 0 || line.trim() === '' ? line : line.startsWith(fromIndent) ? toIndent + line.slice(fromIndent.length) : line))
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// handle_call clause → handle_cast clause

export type Derived = { text: string } | { reason: string };

const PURE_TYPES = new Set(['atom', 'quoted_atom', 'string', 'integer', 'float', 'boolean', 'nil', 'identifier', 'charlist']);

function pureExpr(node: SyntaxNode): boolean {
  if (PURE_TYPES.has(node.type)) return true;
  if (['tuple', 'list', 'map', 'keywords', 'pair', 'map_content'].includes(node.type)) return codeChildren(node).every((c) => c.type === 'keyword' || pureExpr(c));
  // state.field
  if (node.type === 'call' && !node.namedChildren.some((c) => c.type === 'arguments') && node.childForFieldName('target')?.type === 'dot') return true;
  return false;
}

function identifiersIn(node: SyntaxNode): SyntaxNode[] {
  return node.type === 'identifier' ? [node] : node.descendantsOfType('identifier');
}

/**
 * The `handle_cast/2` clause that does what `clause` (a `handle_call/3` clause) does, without the
 * reply: same request pattern, guard and body; `{:reply, r, s}` becomes `{:noreply, s}`. Declines
 * (with the reason) when the clause uses `from`, defers its reply, or computes the reply in a way
 * that dropping it would change what the clause does.
 */
export function deriveHandleCast(clause: Clause, file: FileModel): Derived {
  const [request, from, state] = clause.params;
  if (!request || !from || !state || !clause.body) return { reason: `${clause.fn.name}/3 clause has no body to reuse` };
  const fromName = from.type === 'identifier' ? from.text : undefined;
  if (!fromName) return { reason: 'the handle_call clause matches on `from`' };
  if (!fromName.startsWith('_') && identifiersIn(clause.body).some((n) => n.text === fromName))
    return { reason: `the handle_call clause uses \`${fromName}\` (it replies itself), so it has no cast equivalent` };
  const tails = tailExpressions(clause.body, clause.oneLiner);
  const edits: Array<{ start: number; end: number; text: string }> = [];
  const dropped: SyntaxNode[] = [];
  for (const tail of tails) {
    const items = tail.type === 'tuple' ? codeChildren(tail) : [];
    const tag = atomValue(items[0]);
    if (tag === 'reply' && (items.length === 3 || items.length === 4)) {
      if (!pureExpr(items[1])) return { reason: `its reply \`${items[1].text.slice(0, 40)}\` is computed in the return tuple; dropping it would drop that work` };
      dropped.push(items[1]);
      const rest = items.slice(2).map((i) => i.text).join(', ');
      edits.push({ start: tail.startIndex, end: tail.endIndex, text: `{:noreply, ${rest}}` });
    } else if (tag === 'stop' && items.length === 4) {
      if (!pureExpr(items[2])) return { reason: `its stop reply \`${items[2].text.slice(0, 40)}\` is computed in the return tuple` };
      dropped.push(items[2]);
      edits.push({ start: tail.startIndex, end: tail.endIndex, text: `{:stop, ${items[1].text}, ${items[3].text}}` });
    } else if (tag === 'noreply') {
      return { reason: 'the handle_call clause defers its reply ({:noreply, ...}), so it answers through GenServer.reply/2' };
    } else {
      return { reason: `the handle_call clause returns \`${tail.text.slice(0, 40)}\` built elsewhere, not a reply tuple` };
    }
  }
  if (!edits.length) return { reason: 'no reply tuple found in the handle_call clause' };

  // Text from `def` to the end of the clause, with the head and the return tuples rewritten.
  const defStart = clause.node.startIndex;
  const paramsNode = clause.head.namedChildren.find((c) => c.type === 'arguments');
  if (!paramsNode) return { reason: 'unexpected handle_call head' };
  edits.push({ start: paramsNode.startIndex, end: paramsNode.endIndex, text: `(${request.text}, ${state.text})` });
  const nameNode = clause.head.childForFieldName('target')!;
  edits.push({ start: nameNode.startIndex, end: nameNode.endIndex, text: 'handle_cast' });

  // Variables that only fed the dropped reply become unused: mark them `_name`.
  const droppedIds = new Set(dropped.flatMap(identifiersIn).map((n) => n.id));
  const names = new Set(dropped.flatMap(identifiersIn).map((n) => n.text));
  for (const name of names) {
    if (name.startsWith('_') || name === '__MODULE__') continue;
    const occurrences = [...identifiersIn(clause.node)].filter((n) => n.text === name && !droppedIds.has(n.id) && n.id !== nameNode.id);
    const inFrom = occurrences.filter((n) => n.startIndex >= from.startIndex && n.endIndex <= from.endIndex);
    const left = occurrences.filter((n) => !inFrom.includes(n));
    if (left.length === 1) edits.push({ start: left[0].startIndex, end: left[0].endIndex, text: `_${name}` });
  }

  let text = file.text.slice(defStart, clause.node.endIndex);
  for (const e of edits.sort((a, b) => b.start - a.start)) text = text.slice(0, e.start - defStart) + e.text + text.slice(e.end - defStart);
  // `def ...,\n    do: x` that now fits on one line is joined, as the formatter would.
  if (clause.oneLiner) {
    const joined = text.replace(/,\n\s*do: /, ', do: ');
    if (joined !== text && !joined.includes('\n') && displayWidth(indentAt(file.text, defStart) + joined) <= LINE_LENGTH) text = joined;
  }
  return { text: dedent(indentAt(file.text, defStart) + text) };
}

/**
 * Edits that add `clauses` (text of `def handle_cast ...`, unindented) to `mod`: before its
 * catch-all `handle_cast`, else after its last `handle_cast` clause, else right after `handle_call`.
 */
export function addHandleCast(file: FileModel, mod: ModuleDef, clauses: string[]): Edit {
  const indent = memberIndent(file, mod);
  const existing = mod.functions.get('handle_cast/2');
  const placement = newClausePlacement(file, mod, 'handle_cast/2', mod.functions.get('handle_call/3'));
  let offset = placement.offset;
  const catchAll = existing?.clauses.find(isCatchAll);
  // Before a catch-all that opens the function: stay below its `@impl`, which belongs to the first clause.
  if (placement.before && catchAll && existing!.clauses[0] === catchAll) offset = implEnd(file, catchAll.node) ?? offset;
  const code = clauses.join('\n\n');
  return { file: file.path, start: offset, end: offset, text: clauseText(code, indent, placement, mod.usesImpl) };
}

/** The offset just below an `@impl` line attached to a definition. */
function implEnd(file: FileModel, def: SyntaxNode): number | undefined {
  const start = definitionStart(file, def);
  const text = file.text.slice(start, lineStart(file.text, def.startIndex));
  const m = /^[ \t]*@impl\b.*\n/m.exec(text);
  return m ? start + m.index + m[0].length : undefined;
}


/**
 * Insert a one-line statement before `stmt` in its block. The formatter keeps a blank line between a
 * multi-line expression and its neighbours, so one goes in when `stmt` spans several lines.
 */
export function statementBefore(file: FileModel, stmt: SyntaxNode, code: string): Edit {
  const indent = indentAt(file.text, stmt.startIndex);
  const blank = stmt.startPosition.row !== stmt.endPosition.row ? '\n' : '';
  return { file: file.path, start: stmt.startIndex, end: stmt.startIndex, text: `${code}\n${blank}${indent}` };
}
