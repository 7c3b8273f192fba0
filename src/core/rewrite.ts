/**
 * Building blocks for fixes: text edits laid out as `mix format` would lay them out, with the
 * indentation taken from the anchor line.
 */
import type { Clause, FileModel, FunctionDef, ModuleDef } from './model/module.js';
import type { SyntaxNode } from './parse.js';
import { binaryOperator, blockStatements, codeChildren, indentAt, indentLines, keywordPairs, lineStart } from './query.js';
import type { Edit } from './types.js';

export const INDENT = '  ';

export function replaceNode(file: FileModel, node: SyntaxNode, text: string): Edit {
  return { file: file.path, start: node.startIndex, end: node.endIndex, text };
}

export function insertAt(file: FileModel, offset: number, text: string): Edit {
  return { file: file.path, start: offset, end: offset, text };
}

/**
 * Add `key: value` to a keyword list (`[a: 1]`, `[]`, or a bare `a: 1` tail). Multi-line lists get
 * the pair on a line of its own, as the formatter keeps them one pair per line.
 */
export function addKeyword(file: FileModel, node: SyntaxNode, key: string, value: string): Edit | undefined {
  const pairs = keywordPairs(node);
  if (!pairs) return undefined;
  if (pairs.length === 0) return replaceNode(file, node, `[${key}: ${value}]`);
  const last = pairs[pairs.length - 1].pair;
  const first = pairs[0].pair;
  const multiLine = pairs.length > 1 && last.startPosition.row !== first.startPosition.row;
  const sep = multiLine ? `,\n${indentAt(file.text, last.startIndex)}` : ', ';
  return insertAt(file, last.endIndex, `${sep}${key}: ${value}`);
}

/** Wrap an options expression so it carries a default: `Keyword.put_new(opts, :key, value)`. */
export function keywordPutNew(file: FileModel, expr: SyntaxNode, key: string, value: string): Edit {
  return replaceNode(file, expr, `Keyword.put_new(${expr.text}, :${key}, ${value})`);
}

/** The statements of a clause body (`do` block or `do:` value as one statement). */
export function bodyStatements(clause: Clause): SyntaxNode[] {
  if (!clause.body) return [];
  return clause.oneLiner ? [clause.body] : blockStatements(clause.body);
}

/**
 * Where text placed before a definition belongs: above its `@impl`/`@doc`/`@spec` attributes and the
 * comments directly attached to it, so those stay with the function they describe.
 */
export function definitionStart(file: FileModel, def: SyntaxNode): number {
  let start = def.startIndex;
  for (let prev = def.previousSibling; prev; prev = prev.previousSibling) {
    const attached = prev.type === 'comment' || (prev.type === 'unary_operator' && prev.child(0)?.type === '@' && /^@(impl|doc|spec)\b/.test(prev.text));
    // Only when nothing but whitespace separates it from what follows (no blank line for comments).
    const gap = file.text.slice(prev.endIndex, start);
    if (!attached || gap.trim() !== '' || (prev.type === 'comment' && /\n\s*\n/.test(gap))) break;
    start = prev.startIndex;
  }
  return lineStart(file.text, start);
}

/** Offset just after the end of a definition's last line (after its newline). */
export function definitionEnd(file: FileModel, def: SyntaxNode): number {
  const nl = file.text.indexOf('\n', def.endIndex);
  return nl === -1 ? file.text.length : nl + 1;
}

/** A clause whose first parameter matches anything (`_`, `_msg`, `msg`): a catch-all. */
export function isCatchAll(clause: Clause): boolean {
  const first = clause.params[0];
  return !clause.guard && first?.type === 'identifier';
}

/**
 * Where a new clause of `name/arity` goes: before the first catch-all clause, else after the last
 * clause of that function; when the function does not exist yet, after `after` (or at the end).
 * Returns the offset and whether the new clause starts a new function (so it may need `@impl`).
 */
export function newClausePlacement(
  file: FileModel,
  mod: ModuleDef,
  key: string,
  after?: FunctionDef,
): { offset: number; before: boolean; newFunction: boolean } {
  const existing = mod.functions.get(key);
  if (existing && existing.clauses.length) {
    const catchAll = existing.clauses.find(isCatchAll);
    if (catchAll) return { offset: definitionStart(file, catchAll.node), before: true, newFunction: false };
    const last = existing.clauses[existing.clauses.length - 1];
    return { offset: definitionEnd(file, last.node), before: false, newFunction: false };
  }
  const anchor = after?.clauses[after.clauses.length - 1]?.node ?? lastDefinition(mod);
  if (anchor) return { offset: definitionEnd(file, anchor), before: false, newFunction: true };
  const end = mod.body.lastChild!; // `end`
  return { offset: lineStart(file.text, end.startIndex), before: true, newFunction: true };
}

function lastDefinition(mod: ModuleDef): SyntaxNode | undefined {
  const defs = codeChildren(mod.body).filter((n) => n.type === 'call' && /^defp?$/.test(n.childForFieldName('target')?.text ?? ''));
  return defs[defs.length - 1];
}

/** Lay out a function clause (given without indentation) for insertion at `placement`. */
export function clauseText(code: string, indent: string, placement: { before: boolean; newFunction: boolean }, impl: boolean): string {
  const body = indentLines((impl && placement.newFunction ? '@impl true\n' : '') + code.trimEnd(), indent);
  return placement.before ? `${body}\n\n` : `\n${body}\n`;
}

/** The indentation of a module's direct members. */
export function memberIndent(file: FileModel, mod: ModuleDef): string {
  const first = codeChildren(mod.body)[0];
  return first ? indentAt(file.text, first.startIndex) : indentAt(file.text, mod.node.startIndex) + INDENT;
}

/** The formatter's default line length. */
export const LINE_LENGTH = 98;

export function displayWidth(line: string): number {
  return [...line].length;
}

/** The length of the line holding `offset` once `inserted` characters are added on it. */
export function lineWidthAfter(text: string, offset: number, insertedWidth: number): number {
  const start = lineStart(text, offset);
  const nl = text.indexOf('\n', offset);
  return displayWidth(text.slice(start, nl === -1 ? text.length : nl).replace(/\r$/, '')) + insertedWidth;
}

/**
 * A `def f(x), do: expr` that no longer fits on its line is laid out by the formatter as
 * `def f(x),\n    do: expr`; this is the edit that does that, when the `do:` shares the long line.
 */
export function breakLongOneLiner(file: FileModel, clause: Clause, insertedAt: number, insertedWidth: number): Edit | undefined {
  if (!clause.oneLiner || !clause.body) return undefined;
  const keywords = clause.body.parent?.parent; // value → pair → keywords
  if (keywords?.type !== 'keywords') return undefined;
  if (lineWidthAfter(file.text, insertedAt, insertedWidth) <= LINE_LENGTH) return undefined;
  if (keywords.startPosition.row !== clause.node.startPosition.row) return undefined;
  const comma = keywords.previousSibling;
  if (comma?.type !== ',') return undefined;
  const indent = indentAt(file.text, clause.node.startIndex) + INDENT;
  return { file: file.path, start: comma.endIndex, end: keywords.startIndex, text: `\n${indent}` };
}

/**
 * Add a pipeline step after `operand` (the left side of `operand |> call`), on its own line when the
 * pipeline is laid out one step per line.
 */
export function insertPipeStep(file: FileModel, operand: SyntaxNode, step: string): Edit | undefined {
  const pipe = operand.parent;
  const op = pipe?.childForFieldName('operator');
  if (!pipe || op?.type !== '|>') return undefined;
  const multiLine = op.startPosition.row !== operand.endPosition.row;
  const text = multiLine ? `\n${indentAt(file.text, op.startIndex)}|> ${step}` : ` |> ${step}`;
  return insertAt(file, operand.endIndex, text);
}

/** Indent every line after the first by `extra` (the caller places the first line). */
export function reindentTail(code: string, extra: string): string {
  return code
    .split('\n')
    .map((l, i) => (i === 0 || l.trim() === '' ? l : extra + l))
    .join('\n');
}

/**
 * Put `element` first in a list literal: on its own line in a multi-line list, inline when the
 * result still fits, else the list is laid out one element per line as the formatter would.
 */
export function addListElementFirst(file: FileModel, list: SyntaxNode, element: string): Edit[] | undefined {
  const items = codeChildren(list);
  const open = list.child(0);
  if (open?.type !== '[') return undefined;
  if (!items.length) return [replaceNode(file, list, `[${element}]`)];
  const first = items[0];
  if (first.startPosition.row !== open.startPosition.row)
    return [insertAt(file, open.endIndex, `\n${indentAt(file.text, first.startIndex)}${element},`)];
  if (lineWidthAfter(file.text, list.startIndex, displayWidth(element) + 2) <= LINE_LENGTH && list.startPosition.row === list.endPosition.row)
    return [insertAt(file, open.endIndex, `${element}, `)];
  if (items.some((i) => i.startPosition.row !== i.endPosition.row) || list.startPosition.row !== list.endPosition.row) return undefined;
  const indent = indentAt(file.text, list.startIndex);
  const inner = [element, ...items.map((i) => i.text)].map((t) => `${indent}${INDENT}${t}`).join(',\n');
  // The list's statement becomes multi-line: the formatter wants blank lines around it.
  return [replaceNode(file, list, `[\n${inner}\n${indent}]`), ...blankLinesAround(file, list)];
}

/**
 * Insert `element` into `list` right before its item `before`, laid out as the formatter would:
 * on a line of its own in a one-item-per-line list, inline in a one-line list that stays within the
 * line length; undefined when neither fits (the caller refuses rather than misformat).
 */
export function addListElementBefore(file: FileModel, list: SyntaxNode, before: SyntaxNode, element: string): Edit[] | undefined {
  const items = codeChildren(list);
  const index = items.findIndex((i) => i.id === before.id);
  if (index === -1) return undefined;
  if (index === 0) return addListElementFirst(file, list, element);
  const prev = items[index - 1];
  // Comments directly above the item stay with it.
  let anchor = before.startIndex;
  for (let c = before.previousSibling; c && c.type === 'comment' && c.startIndex > prev.endIndex; c = c.previousSibling) anchor = c.startIndex;
  if (before.startPosition.row !== prev.endPosition.row) return [insertAt(file, anchor, `${element},\n${indentAt(file.text, anchor)}`)];
  if (list.startPosition.row !== list.endPosition.row || items.some((i) => i.startPosition.row !== i.endPosition.row)) return undefined;
  if (lineWidthAfter(file.text, list.startIndex, displayWidth(element) + 2) <= LINE_LENGTH) return [insertAt(file, before.startIndex, `${element}, `)];
  // Too long for one line: one item per line, as the formatter lays out a list that does not fit.
  const indent = indentAt(file.text, list.startIndex);
  const inner = [...items.slice(0, index).map((i) => i.text), element, ...items.slice(index).map((i) => i.text)].map((t) => `${indent}${INDENT}${t}`).join(',\n');
  return [replaceNode(file, list, `[\n${inner}\n${indent}]`), ...blankLinesAround(file, list)];
}

/**
 * Add a one-line statement before the last statement of a clause (its return value), so it runs on
 * every path through the clause. A `do:` one-liner becomes a `do ... end` block. The formatter keeps
 * a blank line between a multi-line statement and its neighbours, and so does this.
 */
export function insertBeforeResult(file: FileModel, clause: Clause, line: string): Edit | undefined {
  const statements = bodyStatements(clause);
  const last = statements[statements.length - 1];
  if (!last) return undefined;
  const multiLine = last.startPosition.row !== last.endPosition.row;
  if (!clause.oneLiner) {
    // Above the comments that belong to the last statement.
    let anchor = last;
    for (let prev = last.previousSibling; prev?.type === 'comment' && prev.endPosition.row === anchor.startPosition.row - 1; prev = prev.previousSibling)
      anchor = prev;
    const indent = indentAt(file.text, last.startIndex);
    return insertAt(file, lineStart(file.text, anchor.startIndex), `${indent}${line}\n${multiLine ? '\n' : ''}`);
  }
  // def f(x), do: expr  →  def f(x) do\n  line\n  expr\nend
  const keywords = clause.body!.parent?.parent;
  const comma = keywords?.previousSibling;
  if (keywords?.type !== 'keywords' || comma?.type !== ',' || keywords.namedChildren.length !== 1) return undefined;
  const defIndent = indentAt(file.text, clause.node.startIndex);
  const bodyIndent = defIndent + INDENT;
  // Continuation lines of the value were laid out relative to the line the value starts on.
  const shift = bodyIndent.length - indentAt(file.text, last.startIndex).length;
  const value = last.text
    .split('\n')
    .map((l, i) => (i === 0 || l.trim() === '' ? l : shift >= 0 ? ' '.repeat(shift) + l : l.slice(Math.min(-shift, /^ */.exec(l)![0].length))))
    .join('\n');
  const text = ` do\n${bodyIndent}${line}\n${multiLine ? '\n' : ''}${bodyIndent}${value}\n${defIndent}end`;
  return { file: file.path, start: comma.startIndex, end: clause.node.endIndex, text };
}

/**
 * A first `handle_info/2` replaces the default one from `use GenServer`, which logs any other message
 * and goes on: a new function keeps that, or a stray message (a late Task reply, an :EXIT) would now
 * crash the server.
 */
export const LOGGING_CATCH_ALL = `# Any other message: logged and ignored, as GenServer's default handle_info/2 does.
def handle_info(msg, state) do
  :logger.error("#{inspect(__MODULE__)} got an unexpected message: #{inspect(msg)}")
  {:noreply, state}
end`;

export type Placement = ReturnType<typeof newClausePlacement>;

/**
 * Where a new `handle_info/2` clause goes (see newClausePlacement). When the catch-all is the first
 * clause and carries `@impl true`, the new clause goes below that attribute, so `@impl` stays on the
 * function's first clause.
 */
export function handleInfoPlacement(file: FileModel, mod: ModuleDef, after?: FunctionDef): Placement {
  const placement = newClausePlacement(file, mod, 'handle_info/2', after);
  const first = mod.functions.get('handle_info/2')?.clauses[0];
  if (!first || !placement.before || placement.newFunction || !isCatchAll(first)) return placement;
  const attached = file.text.slice(placement.offset, first.node.startIndex);
  const impl = /^[ \t]*@impl\b.*\n/m.exec(attached);
  if (!impl) return placement;
  return { ...placement, offset: placement.offset + impl.index + impl[0].length };
}

/**
 * Delete a statement with the comment lines directly above it (the ones that describe it), leaving
 * blank lines as `mix format` would: never two in a row, none right after a block opens. Undefined
 * when the statement shares a line with other code.
 */
export function removeStatement(file: FileModel, stmt: SyntaxNode): Edit | undefined {
  const text = file.text;
  let start = lineStart(text, stmt.startIndex);
  if (text.slice(start, stmt.startIndex).trim() !== '') return undefined;
  const lineEndAt = (offset: number) => {
    const nl = text.indexOf('\n', offset);
    return nl === -1 ? text.length : nl + 1;
  };
  let end = lineEndAt(stmt.endIndex);
  const tail = text.slice(stmt.endIndex, end).trim();
  if (tail !== '' && !tail.startsWith('#')) return undefined;
  for (let prev = stmt.previousSibling; prev?.type === 'comment'; prev = prev.previousSibling) {
    const prevLine = lineStart(text, prev.startIndex);
    if (text.slice(prevLine, prev.startIndex).trim() !== '' || text.slice(prev.endIndex, start).trim() !== '') break;
    if (/\n[ \t]*\n/.test(text.slice(prev.endIndex, start))) break;
    start = prevLine;
  }
  const before = text.slice(lineStart(text, Math.max(0, start - 1)), start).trim();
  const after = text.slice(end, lineEndAt(end)).trim();
  const opener = before === '' ? false : /(\bdo|->)$/.test(before);
  if (after === '' && end < text.length && (before === '' || opener)) end = lineEndAt(end);
  return { file: file.path, start, end, text: '' };
}

/**
 * Put `code` (one statement, unindented) first in a clause's body; a `do:` one-liner becomes a
 * `do ... end` block. Undefined when the one-liner's body spans several lines.
 */
export function prependStatement(file: FileModel, clause: Clause, code: string): Edit | undefined {
  if (!clause.body) return undefined;
  const defIndent = indentAt(file.text, clause.node.startIndex);
  const inner = defIndent + INDENT;
  const lines = code.split('\n').map((l, i) => (i === 0 ? l : inner + l)).join('\n');
  // The formatter separates a multi-line expression from the statement after it with a blank line.
  const gap = code.includes('\n') ? '\n' : '';
  if (!clause.oneLiner) {
    const first = bodyStatements(clause)[0] ?? codeChildren(clause.body)[0];
    if (!first) return undefined;
    const at = lineStart(file.text, first.startIndex);
    // Comments above the first statement stay with it.
    let offset = at;
    for (let prev = first.previousSibling; prev?.type === 'comment'; prev = prev.previousSibling) offset = lineStart(file.text, prev.startIndex);
    return insertAt(file, offset, `${inner}${lines}\n${gap}`);
  }
  if (clause.body.text.includes('\n')) return undefined;
  const headEnd = clause.guard ? clause.guard.endIndex : clause.head.endIndex;
  return {
    file: file.path,
    start: headEnd,
    end: clause.node.endIndex,
    text: ` do\n${inner}${lines}\n${gap}${inner}${clause.body.text}\n${defIndent}end`,
  };
}

// ---------------------------------------------------------------------------------------------
// Layout of a node that grew past the line length, as `mix format` lays it out.

/** Characters on the node's last line after it (a trailing `,` or `}` of its container). */
function restOfLine(text: string, end: number): string {
  const nl = text.indexOf('\n', end);
  return text.slice(end, nl === -1 ? text.length : nl).replace(/\r$/, '');
}

function columnOf(text: string, offset: number): number {
  return displayWidth(text.slice(lineStart(text, offset), offset));
}

/**
 * `{Head, k: v, ...}` or `name(k: v, ...)` with these pairs, laid out for where `node` stands:
 * one line when it fits; else the formatter's breaks (a tuple breaks after its head and aligns the
 * pairs one column in; a call puts one pair per line inside its parentheses).
 */
function keywordCarrier(text: string, node: SyntaxNode, head: string, pairs: string[], kind: 'tuple' | 'call', column: number): string {
  const rest = displayWidth(restOfLine(text, node.endIndex));
  const indent = indentAt(text, node.startIndex);
  if (kind === 'tuple') {
    const flat = `${head}, ${pairs.join(', ')}}`;
    if (column + displayWidth(flat) + rest <= LINE_LENGTH) return flat;
    const pad = ' '.repeat(column + 1);
    const second = `${pairs.join(', ')}}`;
    if (column + 1 + displayWidth(second) + rest <= LINE_LENGTH) return `${head},\n${pad}${second}`;
    return `${head},\n${pairs.map((p) => pad + p).join(',\n')}}`;
  }
  const flat = `${head}(${pairs.join(', ')})`;
  if (column + displayWidth(flat) + rest <= LINE_LENGTH) return flat;
  return `${head}(\n${pairs.map((p) => indent + INDENT + p).join(',\n')}\n${indent})`;
}

/**
 * Edits that add `key: value` to the keyword options of `carrier` (a `{Head, opts}` tuple or a call
 * whose last argument is the keyword list), laid out as the formatter would when the line grows too
 * long: the carrier breaks, an assignment breaks after its `=`, and a statement that becomes
 * multi-line gets blank lines around it.
 */
export function addKeywordLaidOut(file: FileModel, carrier: SyntaxNode, opts: SyntaxNode, key: string, value: string): Edit[] | undefined {
  const simple = addKeyword(file, opts, key, value);
  if (!simple) return undefined;
  const grown = displayWidth(simple.text) - (simple.end - simple.start);
  const pairs = keywordPairs(opts);
  // Comments inside, or a list the author broke one pair per line: the formatter keeps those as they are.
  if (simple.text.includes('\n') || !pairs?.length || carrier.descendantsOfType('comment').length) return [simple];
  // A tuple is re-fitted whatever its current breaks; a call only when it is on one line.
  const refit = carrier.type === 'tuple' ? carrier.startPosition.row !== carrier.endPosition.row : false;
  if (!refit && lineWidthAfter(file.text, simple.start, grown) <= LINE_LENGTH) return [simple];
  if (carrier.type !== 'tuple' && carrier.startPosition.row !== carrier.endPosition.row) return [simple];
  const pairTexts = [...pairs.map((p) => p.pair.text), `${key}: ${value}`];
  const text = file.text;
  let head: string;
  let kind: 'tuple' | 'call';
  if (carrier.type === 'tuple') {
    kind = 'tuple';
    head = text.slice(carrier.startIndex, codeChildren(carrier)[0].endIndex);
  } else {
    const args = carrier.namedChildren.find((c) => c.type === 'arguments');
    if (!args || codeChildren(args).length !== 1 || opts.parent?.id !== args.id) return [simple];
    kind = 'call';
    head = text.slice(carrier.startIndex, args.startIndex);
  }
  const edits: Edit[] = [];
  const assignment = carrier.parent && binaryOperator(carrier.parent) === '=' && carrier.parent.childForFieldName('right')?.id === carrier.id ? carrier.parent : undefined;
  let replacement: string;
  let start = carrier.startIndex;
  if (assignment && assignment.startPosition.row === carrier.startPosition.row) {
    // `pattern = call(...)` that no longer fits: the formatter breaks after `=` first.
    const indent = indentAt(text, assignment.startIndex) + INDENT;
    const op = assignment.childForFieldName('operator')!;
    start = op.endIndex;
    replacement = `\n${indent}${keywordCarrier(text, carrier, head, pairTexts, kind, indent.length)}`;
  } else {
    replacement = keywordCarrier(text, carrier, head, pairTexts, kind, columnOf(text, carrier.startIndex));
  }
  edits.push({ file: file.path, start, end: carrier.endIndex, text: replacement });
  edits.push(...blankLinesAround(file, assignment ?? carrier));
  return edits;
}

/** The statement of a block that holds `node` (or undefined when it is not in a block). */
function enclosingStatement(node: SyntaxNode): SyntaxNode | undefined {
  for (let n: SyntaxNode | null = node; n?.parent; n = n.parent)
    if (['do_block', 'body', 'source', 'stab_clause'].includes(n.parent.type) || n.parent.type.endsWith('_block')) return n;
  return undefined;
}

/**
 * The formatter separates a multi-line statement from its neighbours with a blank line: insertions
 * that add the missing ones when `node`'s statement becomes multi-line.
 */
export function blankLinesAround(file: FileModel, node: SyntaxNode): Edit[] {
  const statement = enclosingStatement(node);
  if (!statement) return [];
  const text = file.text;
  const edits: Edit[] = [];
  let prev = statement.previousNamedSibling;
  while (prev?.type === 'comment' && !/\n[ \t]*\n/.test(text.slice(prev.endIndex, statement.startIndex))) prev = prev.previousNamedSibling;
  const next = statement.nextNamedSibling;
  const top = prev && prev.type !== 'comment' ? attachedTop(text, statement) : undefined;
  if (prev && top !== undefined && !/\n[ \t]*\n/.test(text.slice(prev.endIndex, top))) edits.push(insertAt(file, lineStart(text, top), '\n'));
  if (next && !next.type.endsWith('_block') && next.type !== 'end' && !/\n[ \t]*\n/.test(text.slice(statement.endIndex, next.startIndex)))
    edits.push(insertAt(file, statement.endIndex, '\n'));
  return edits;
}

/** Start of a statement including the comment lines directly above it. */
function attachedTop(text: string, statement: SyntaxNode): number {
  let top = statement.startIndex;
  for (let prev = statement.previousSibling; prev?.type === 'comment'; prev = prev.previousSibling) {
    if (/\n[ \t]*\n/.test(text.slice(prev.endIndex, top))) break;
    top = prev.startIndex;
  }
  return top;
}
