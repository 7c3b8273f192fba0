/**
 * What goes into an ETS table: the operations that reach it through helper parameters too
 * (`defp put(table, ...)` called with `state.table`), and the shape of each record a write creates
 * (tuple arity, nested key tuples, which elements hold a time and of what kind).
 */
import type { SyntaxNode } from '../parse.js';
import { atomValue, codeChildren } from '../query.js';
import { tableRef, type EtsOp, type EtsTable } from './ets.js';
import type { Clause, ModuleDef } from './module.js';
import type { ProjectIndex } from './project.js';
import { timeValue, type TimeValue } from './time.js';
import { returnedBy, unparen, valueOrigins } from './values.js';

export type ProjectOp = EtsOp & { module: ModuleDef };

export interface TableOps {
  /** Operations that certainly or possibly reach the table. */
  ops: ProjectOp[];
  /** Operations whose table the model cannot tell (a variable from nowhere it can follow). */
  unresolved: ProjectOp[];
}

/** Every operation on `table`, following table ids passed into helpers as parameters. */
export function opsReaching(project: ProjectIndex, table: EtsTable): TableOps {
  const cache = project.memo('ets-records:ops', () => new Map<EtsTable, TableOps>());
  let found = cache.get(table);
  if (found) return found;
  const direct = project.opsOn(table);
  // `{:ok, :ets.new(...)}`: every callback's state parameter is the table.
  const stopAt = stateIsTable(table)
    ? (c: Clause, i: number) => c.fn.module === table.module && c.fn.isCallback && STATE_PARAM[`${c.fn.name}/${c.fn.arity}`] === i
    : undefined;
  const ops = [...direct];
  const unresolved: ProjectOp[] = [];
  for (const op of project.ops) {
    if (op.kind === 'create' || direct.includes(op)) continue;
    if (op.ref.kind === 'named' || project.tablesFor(op, op.module).length) continue;
    const origins = op.ref.kind !== 'var' ? undefined : stopAt ? valueOrigins(op.ref.name, op.ref.clause, op.site.node.startIndex, project, 3, stopAt) : plainOrigins(project, op);
    if (!origins) {
      unresolved.push(op);
      continue;
    }
    const reaches = origins.some((o) => {
      if (stopAt && o.clause.params.some((p) => p.id === o.node.id)) return true;
      const ref = tableRef(o.node, o.clause);
      return project.tablesFor({ ...op, ref }, o.clause.fn.module).includes(table);
    });
    if (reaches) ops.push(op);
  }
  found = { ops, unresolved };
  cache.set(table, found);
  return found;
}

/** Where a variable table reference comes from, once per operation and index (shared by every table asked about). */
function plainOrigins(project: ProjectIndex, op: ProjectOp): ReturnType<typeof valueOrigins> {
  const cache = project.memo('ets-records:origins', () => new Map<ProjectOp, ReturnType<typeof valueOrigins>>());
  if (!cache.has(op) && op.ref.kind === 'var') cache.set(op, valueOrigins(op.ref.name, op.ref.clause, op.site.node.startIndex, project, 3));
  return cache.get(op);
}

/** Position of the state among a GenServer callback's parameters. */
const STATE_PARAM: Record<string, number> = {
  'handle_call/3': 2,
  'handle_cast/2': 1,
  'handle_info/2': 1,
  'handle_continue/2': 1,
  'terminate/2': 1,
  'code_change/3': 1,
};

/** Whether init/1 makes the table id itself the server state (`{:ok, :ets.new(...)}`, `{:ok, table}`). */
export function stateIsTable(table: EtsTable): boolean {
  if (table.fn.name !== 'init' || table.fn.arity !== 1 || !table.clause.body) return false;
  const body = table.clause.body;
  const statements = table.clause.oneLiner ? [body] : codeChildren(body).filter((n) => !n.type.endsWith('_block'));
  const last = statements[statements.length - 1];
  if (last?.type !== 'tuple') return false;
  const [tag, state] = codeChildren(last);
  if (tag?.text !== ':ok' || !state) return false;
  return state.id === table.site.node.id || (state.type === 'identifier' && state.text === table.variable);
}

/** One element of a written record: a nested tuple, a time, or something else. */
export type ElementShape =
  | { kind: 'tuple'; node: SyntaxNode; items: ElementShape[] }
  | { kind: 'time'; node: SyntaxNode; time: TimeValue }
  /** A literal that is not a number (atoms, strings, lists, maps sort after every number). */
  | { kind: 'non-number'; node: SyntaxNode }
  | { kind: 'other'; node: SyntaxNode };

export interface WrittenRecord {
  op: ProjectOp;
  /** The tuple expression written (after following variables). */
  node: SyntaxNode;
  clause: Clause;
  shape: ElementShape & { kind: 'tuple' };
}

export interface TimedElement {
  /** 0-based positions from the record down to the time (`[0, 1]`: 2nd element of the key tuple). */
  path: number[];
  node: SyntaxNode;
  time: TimeValue;
}

export type RecordsRead = { records: WrittenRecord[] } | { unreadable: string };

/** The records a write creates; undefined when the operation creates none (`update_counter/3`). */
export function recordsWritten(op: ProjectOp, project: ProjectIndex): RecordsRead | undefined {
  let arg: SyntaxNode | undefined;
  if (op.op === 'insert' || op.op === 'insert_new') arg = op.site.args[1];
  else if (op.op === 'update_counter' && op.site.arity === 4) arg = op.site.args[3];
  else return undefined;
  if (!arg) return undefined;
  const records: WrittenRecord[] = [];
  const queue: Array<{ node: SyntaxNode; clause: Clause; depth: number }> = [{ node: arg, clause: op.clause, depth: 3 }];
  while (queue.length) {
    const { node, clause, depth } = queue.shift()!;
    const n = unparen(node);
    if (n.type === 'tuple') records.push({ op, node: n, clause, shape: tupleShape(n, clause, project, 3) });
    else if (n.type === 'keywords')
      // `:ets.insert(t, shell: ..., env: ...)`: {atom, value} records.
      for (const pair of n.namedChildren.filter((c) => c.type === 'pair')) {
        const key = pair.childForFieldName('key')!;
        const value = pair.childForFieldName('value')!;
        const items: ElementShape[] = [{ kind: 'non-number', node: key }, elementShape(value, clause, project, 3)];
        records.push({ op, node: pair, clause, shape: { kind: 'tuple', node: pair, items } });
      }
    else if (n.type === 'list' && !codeChildren(n).some((c) => c.type === 'binary_operator'))
      for (const item of codeChildren(n)) queue.push({ node: item, clause, depth });
    else if (n.type === 'identifier' && depth > 0) {
      const origins = valueOrigins(n.text, clause, n.startIndex, project);
      if (!origins?.length) return { unreadable: `\`${n.text}\` is not a record built where it is written` };
      for (const o of origins) queue.push({ node: o.node, clause: o.clause, depth: depth - 1 });
    } else {
      const returned = depth > 0 ? returnedBy(n, clause, project) : undefined;
      if (!returned?.length) return { unreadable: `\`${oneLine(n.text)}\` is not a tuple the rule can read` };
      for (const o of returned) queue.push({ node: o.node, clause: o.clause, depth: depth - 1 });
    }
  }
  return { records };
}

function tupleShape(node: SyntaxNode, clause: Clause, project: ProjectIndex, depth: number): ElementShape & { kind: 'tuple' } {
  return { kind: 'tuple', node, items: codeChildren(node).map((c) => elementShape(c, clause, project, depth)) };
}

function elementShape(node: SyntaxNode, clause: Clause, project: ProjectIndex, depth: number): ElementShape {
  const n = unparen(node);
  if (n.type === 'tuple') return depth > 0 ? tupleShape(n, clause, project, depth - 1) : { kind: 'other', node: n };
  const time = timeValue(n, clause, project);
  if (time) return { kind: 'time', node: n, time };
  if (isNonNumberLiteral(n)) return { kind: 'non-number', node: n };
  if ((n.type === 'identifier' || n.type === 'call') && depth > 0) {
    const origins = n.type === 'call' ? returnedBy(n, clause, project) : valueOrigins(n.text, clause, n.startIndex, project);
    if (origins?.length === 1) {
      const inner = elementShape(origins[0].node, origins[0].clause, project, depth - 1);
      return inner.kind === 'tuple' || inner.kind === 'non-number' ? inner : { kind: 'other', node: n };
    }
  }
  return { kind: 'other', node: n };
}

function isNonNumberLiteral(n: SyntaxNode): boolean {
  if (atomValue(n) !== undefined) return true;
  return ['alias', 'string', 'charlist', 'list', 'map', 'sigil', 'binary'].includes(n.type);
}

/** Every time element of a record shape, with its path. */
export function timedElements(shape: ElementShape, path: number[] = []): TimedElement[] {
  if (shape.kind === 'time') return [{ path, node: shape.node, time: shape.time }];
  if (shape.kind !== 'tuple') return [];
  return shape.items.flatMap((item, i) => timedElements(item, [...path, i]));
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}
