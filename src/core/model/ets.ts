/**
 * ETS facts: where each table is created (owner module and process), how it is named and reached
 * (named atom, state field, variable), its access and type, and every operation on it.
 */
import type { SyntaxNode } from '../parse.js';
import { atomValue, binaryOperator, codeChildren, keywordText } from '../query.js';
import {
  literalAtom,
  type CallSite,
  type Clause,
  type FunctionDef,
  type ModuleDef,
  uniqueFunctions,
} from './module.js';

export type EtsAccess = 'public' | 'protected' | 'private';
export type EtsType = 'set' | 'ordered_set' | 'bag' | 'duplicate_bag';

export type TableRef =
  | { kind: 'named'; name: string }
  | { kind: 'field'; field: string }
  | { kind: 'var'; name: string; clause: Clause }
  | { kind: 'unknown' };

export interface EtsTable {
  module: ModuleDef;
  fn: FunctionDef;
  clause: Clause;
  site: CallSite;
  /** The first argument of `:ets.new/2` when it is a literal atom (or attribute/`__MODULE__`). */
  name?: string;
  named: boolean;
  access: EtsAccess;
  type: EtsType;
  /** State field the table id is stored under (`%{table: :ets.new(...)}` or via a variable). */
  field?: string;
  /** Variable bound to the result in the creating clause. */
  variable?: string;
}

export type EtsOpKind = 'create' | 'read' | 'write' | 'delete' | 'meta';

export interface EtsOp {
  site: CallSite;
  clause: Clause;
  op: string;
  kind: EtsOpKind;
  ref: TableRef;
}

const OP_KINDS: Record<string, EtsOpKind> = {
  new: 'create',
  lookup: 'read',
  lookup_element: 'read',
  member: 'read',
  match: 'read',
  match_object: 'read',
  select: 'read',
  select_count: 'read',
  select_reverse: 'read',
  tab2list: 'read',
  first: 'read',
  last: 'read',
  next: 'read',
  prev: 'read',
  foldl: 'read',
  foldr: 'read',
  info: 'meta',
  whereis: 'meta',
  give_away: 'meta',
  setopts: 'meta',
  insert: 'write',
  insert_new: 'write',
  update_counter: 'write',
  update_element: 'write',
  select_replace: 'write',
  delete: 'delete',
  delete_object: 'delete',
  delete_all_objects: 'delete',
  select_delete: 'delete',
  match_delete: 'delete',
  take: 'delete',
};

export function etsOpKind(name: string): EtsOpKind | undefined {
  return OP_KINDS[name];
}

export function collectEts(mod: ModuleDef): { tables: EtsTable[]; ops: EtsOp[] } {
  const tables: EtsTable[] = [];
  const ops: EtsOp[] = [];
  for (const fn of uniqueFunctions(mod))
    for (const clause of fn.clauses)
      for (const site of clause.calls) {
        if (site.module !== ':ets' || site.capture) continue;
        const kind = etsOpKind(site.name);
        if (!kind) continue;
        if (kind === 'create') {
          const table = readTable(mod, fn, clause, site);
          if (table) tables.push(table);
          ops.push({ site, clause, op: site.name, kind, ref: table?.named && table.name ? { kind: 'named', name: table.name } : { kind: 'unknown' } });
          continue;
        }
        ops.push({ site, clause, op: site.name, kind, ref: tableRef(site.args[0], clause) });
      }
  return { tables, ops };
}

function readTable(mod: ModuleDef, fn: FunctionDef, clause: Clause, site: CallSite): EtsTable | undefined {
  const [nameNode, optsNode] = site.args;
  if (!nameNode) return undefined;
  const flags = optsNode?.type === 'list' ? listAtoms(optsNode, mod) : [];
  const access = (['public', 'private'] as const).find((a) => flags.includes(a)) ?? 'protected';
  const type = (['ordered_set', 'bag', 'duplicate_bag'] as const).find((t) => flags.includes(t)) ?? 'set';
  const table: EtsTable = {
    module: mod,
    fn,
    clause,
    site,
    name: literalAtom(nameNode, mod),
    named: flags.includes('named_table'),
    access,
    type,
  };
  locateStorage(table);
  return table;
}

/** Atoms in an options list (`[:set, :public, read_concurrency: true]` → set, public). */
function listAtoms(list: SyntaxNode, mod: ModuleDef): string[] {
  return codeChildren(list)
    .map((n) => literalAtom(n, mod))
    .filter((a): a is string => a !== undefined);
}

/** Where the table id goes: `t = :ets.new(..)`, `%{table: :ets.new(..)}`, then `%{table: t}`. */
function locateStorage(table: EtsTable): void {
  const call = table.site.node;
  const parent = call.parent;
  if (parent?.type === 'pair') {
    const key = parent.childForFieldName('key');
    if (key) table.field = keywordText(key);
    return;
  }
  if (parent && binaryOperator(parent) === '=' && parent.childForFieldName('right')?.id === call.id) {
    const left = parent.childForFieldName('left');
    if (left?.type === 'identifier') table.variable = left.text;
  }
  if (!table.variable || !table.clause.body) return;
  // %{state | table: t} / %{table: t} / Map.put(state, :table, t)
  for (const pair of table.clause.body.descendantsOfType('pair')) {
    const value = pair.childForFieldName('value');
    const key = pair.childForFieldName('key');
    if (value?.type === 'identifier' && value.text === table.variable && key) {
      table.field = keywordText(key);
      return;
    }
  }
  for (const site of table.clause.calls) {
    const [, key, value] = site.args;
    if (site.module === 'Map' && site.name === 'put' && site.arity === 3 && value?.type === 'identifier' && value.text === table.variable) {
      const field = atomValue(key);
      if (field) table.field = field;
      return;
    }
  }
}

/** How an operation's first argument names its table. */
export function tableRef(node: SyntaxNode | undefined, clause: Clause): TableRef {
  if (!node) return { kind: 'unknown' };
  const mod = clause.fn.module;
  const atom = literalAtom(node, mod);
  if (atom !== undefined) return { kind: 'named', name: atom };
  if (node.type === 'call') {
    // state.table
    const target = node.childForFieldName('target');
    const hasArgs = node.namedChildren.some((c) => c.type === 'arguments');
    const right = target?.childForFieldName('right');
    if (target?.type === 'dot' && !hasArgs && right?.type === 'identifier') return { kind: 'field', field: right.text };
  }
  if (node.type === 'identifier') {
    const field = fieldBoundInParams(node.text, clause);
    if (field) return { kind: 'field', field };
    return { kind: 'var', name: node.text, clause };
  }
  return { kind: 'unknown' };
}

/** `def handle_call(_, _, %{table: t})` binds `t` to the `table` field. */
export function fieldBoundInParams(variable: string, clause: Clause): string | undefined {
  for (const param of clause.params)
    for (const pair of param.descendantsOfType('pair')) {
      const value = pair.childForFieldName('value');
      const key = pair.childForFieldName('key');
      if (value?.type === 'identifier' && value.text === variable && key) return keywordText(key);
    }
  return undefined;
}

export function refMatchesTable(ref: TableRef, table: EtsTable, fromModule: ModuleDef): boolean {
  switch (ref.kind) {
    case 'named':
      return table.named && table.name === ref.name;
    case 'field':
      return fromModule === table.module && table.field === ref.field;
    case 'var':
      return ref.clause === table.clause && ref.name === table.variable;
    default:
      return false;
  }
}

export function describeTable(table: EtsTable): string {
  if (table.named && table.name) return `:${table.name}`;
  if (table.field) return `the table in state.${table.field}`;
  return `the table created in ${table.module.name}.${table.fn.name}/${table.fn.arity}`;
}
