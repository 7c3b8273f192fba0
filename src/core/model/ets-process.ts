/**
 * Which processes touch an ETS table, and how an operation reaches its table. Built on ets.ts and
 * project.ts without changing them:
 *
 * - table references resolved further than `tablesFor` does: variables bound in the clause
 *   (`t = state.table`, `%{table: t} = state`, `t = @table`), parameters followed to the module's own
 *   call sites (`defp get(table, key)` called as `get(state.table, key)`), parameter defaults
 *   (`table \\ __MODULE__`) and zero-arity functions returning an atom (`defp table, do: @table`,
 *   `Mod.table()`);
 * - the processes a function runs in, through local and cross-module call sites: the server process of
 *   a module (`server`), many client processes (`callers`), or a process spawned for a closure
 *   (`spawned`);
 * - every operation on a table with those processes, so that a rule can say who writes it.
 */
import type { SyntaxNode } from '../parse.js';
import { append } from '../collections.js';
import { binaryOperator, codeChildren, keywordText } from '../query.js';
import type { EtsOp, EtsTable } from './ets.js';
import {
  isProcessModule,
  literalAtom,
  localTarget,
  uniqueFunctions,
  type CallSite,
  type Clause,
  type FunctionDef,
  type ModuleDef,
} from './module.js';
import { moduleEts, type ProjectIndex } from './project.js';

export type Proc =
  | { kind: 'server'; module: ModuleDef }
  /** `start_link` run by whoever starts the process, usually its supervisor (one at a time). */
  | { kind: 'starter'; via: FunctionDef }
  | { kind: 'callers'; via: FunctionDef }
  | { kind: 'spawned'; via: FunctionDef };

/** An operation with everything a rule needs: where it is, which tables it can touch, who runs it. */
export interface EtsSite extends EtsOp {
  module: ModuleDef;
  fn: FunctionDef;
  /** Tables the reference resolves to (empty when unknown). */
  tables: EtsTable[];
  /** The atom the table is named by, when known even without a creation site in the scan. */
  named?: string;
  /** How the code names the table (`@table`, `state.table`, `table`). */
  refText: string;
  /**
   * Where an unresolved reference comes from: a parameter (the caller hands the table in), or
   * something opaque (a function's result, a destructured tuple) the model cannot follow.
   */
  origin: 'resolved' | 'param' | 'opaque';
}

const MAX_DEPTH = 4;

// ---------------------------------------------------------------------------------------------
// Table references

interface Resolution {
  tables: Set<EtsTable>;
  named: Set<string>;
  /** A parameter of a function was reached while following the reference. */
  param: boolean;
}

/** Resolve an operation's table argument to the tables it can denote. */
export function resolveSite(project: ProjectIndex, op: EtsOp & { module: ModuleDef }): EtsSite {
  const cache = project.memo('ets-process:sites', () => new Map<SyntaxNode['id'], EtsSite>());
  const hit = cache.get(op.site.node.id);
  if (hit && hit.site === op.site) return hit;
  const arg = op.site.args[0];
  const res: Resolution = { tables: new Set(), named: new Set(), param: false };
  if (op.kind !== 'create' && arg) resolveExpr(project, arg, op.clause, res, 0);
  for (const t of project.tablesFor(op, op.module)) res.tables.add(t);
  const named = res.named.size === 1 ? [...res.named][0] : undefined;
  const site: EtsSite = {
    ...op,
    fn: op.clause.fn,
    tables: [...res.tables],
    named,
    refText: arg ? arg.text : '?',
    origin: res.tables.size || res.named.size ? 'resolved' : res.param ? 'param' : 'opaque',
  };
  cache.set(op.site.node.id, site);
  return site;
}

function namedTables(project: ProjectIndex, name: string): EtsTable[] {
  return project.tables.filter((t) => t.named && t.name === name);
}

function addNamed(project: ProjectIndex, name: string, res: Resolution): void {
  res.named.add(name);
  for (const t of namedTables(project, name)) res.tables.add(t);
}

function resolveExpr(project: ProjectIndex, node: SyntaxNode, clause: Clause, res: Resolution, depth: number): void {
  if (depth > MAX_DEPTH) return;
  const mod = clause.fn.module;
  const atom = literalAtom(node, mod);
  if (atom !== undefined) return addNamed(project, atom, res);
  // `state.table`
  const field = fieldAccess(node);
  if (field) {
    for (const t of fieldTables(project, mod, field)) res.tables.add(t);
    return;
  }
  if (node.type === 'call') {
    const callee = zeroArityAtom(project, node, mod);
    if (callee) addNamed(project, callee, res);
    return;
  }
  if (node.type !== 'identifier') return;
  const name = node.text;
  // Bound in the clause body before use: `t = ...`, `%{table: t} = state`.
  for (const binding of bindingsOf(name, clause, node)) resolveExpr(project, binding, clause, res, depth + 1);
  // Destructured from a parameter: `def handle_call(_, _, %{table: t})`.
  const paramField = fieldInParams(name, clause);
  if (paramField) for (const t of fieldTables(project, mod, paramField)) res.tables.add(t);
  // A parameter: follow the module's own call sites, and the default value.
  const index = clause.params.findIndex((p) => paramVar(p) === name);
  if (index < 0) return;
  // The state of a server callback that is the table itself (`init(_), do: {:ok, :ets.new(...)}`).
  if (clause.fn.isCallback && index === clause.params.length - 1 && clause.fn.name !== 'init')
    for (const t of stateTables(project, mod)) res.tables.add(t);
  // Handed in from outside the module: a parameter of a public function.
  if (clause.fn.kind === 'def' && !clause.fn.isCallback) res.param = true;
  const param = clause.params[index];
  if (binaryOperator(param) === '\\\\') {
    const dflt = param.childForFieldName('right');
    if (dflt) resolveExpr(project, dflt, clause, res, depth + 1);
  }
  const fn = clause.fn;
  for (const other of uniqueFunctions(mod))
    for (const c of other.clauses)
      for (const site of c.calls) {
        if (site.capture || localTarget(site, mod) !== fn) continue;
        const arg = site.args[index];
        if (arg) resolveExpr(project, arg, c, res, depth + 1);
      }
}

/** Tables that are a server's whole state: `{:ok, :ets.new(...)}` or `{:ok, t}` returned by init/1. */
function stateTables(project: ProjectIndex, mod: ModuleDef): EtsTable[] {
  const init = mod.functions.get('init/1');
  if (!init) return [];
  return project.tables.filter((t) => {
    if (t.module !== mod || t.fn !== init) return false;
    const call = t.site.node;
    const tuple = call.parent?.type === 'tuple' ? call.parent : undefined;
    if (tuple && codeChildren(tuple)[0]?.text === ':ok' && codeChildren(tuple)[1]?.id === call.id) return true;
    if (!t.variable || !t.clause.body) return false;
    return t.clause.body.descendantsOfType('tuple').some((tp) => codeChildren(tp)[0]?.text === ':ok' && codeChildren(tp)[1]?.text === t.variable);
  });
}

/** `x` or `x \\ default` as a parameter → `x`. */
function paramVar(param: SyntaxNode): string | undefined {
  if (param.type === 'identifier') return param.text;
  if (binaryOperator(param) === '\\\\') {
    const left = param.childForFieldName('left');
    return left?.type === 'identifier' ? left.text : undefined;
  }
  return undefined;
}

/** `state.table` (no call parentheses) → `table`. */
export function fieldAccess(node: SyntaxNode): string | undefined {
  if (node.type !== 'call') return undefined;
  const target = node.childForFieldName('target');
  const hasArgs = node.namedChildren.some((c) => c.type === 'arguments');
  const right = target?.childForFieldName('right');
  if (target?.type === 'dot' && !hasArgs && right?.type === 'identifier' && target.childForFieldName('left')?.type !== 'alias')
    return right.text;
  return undefined;
}

function fieldTables(project: ProjectIndex, mod: ModuleDef, field: string): EtsTable[] {
  // Field names are only meaningful within the module that stores the table in its state.
  return project.tables.filter((t) => t.module === mod && t.field === field);
}

/**
 * Right-hand sides bound to `name` in the clause before `use`: `name = rhs` gives rhs; a map or
 * struct pattern `%{key: name} = rhs` gives `rhs.key`, reported as a synthetic field access.
 */
function bindingsOf(name: string, clause: Clause, use: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  if (!clause.body) return out;
  for (const eq of clause.body.descendantsOfType('binary_operator')) {
    if (binaryOperator(eq) !== '=' || eq.startIndex > use.startIndex) continue;
    const left = eq.childForFieldName('left');
    const right = eq.childForFieldName('right');
    if (!left || !right) continue;
    if (left.type === 'identifier' && left.text === name) out.push(right);
  }
  return out;
}

/** Field destructured into `name`, in the parameters or by a `%{field: name} = ...` in the body. */
function fieldInParams(name: string, clause: Clause): string | undefined {
  const patterns: SyntaxNode[] = [...clause.params];
  if (clause.body)
    for (const eq of clause.body.descendantsOfType('binary_operator'))
      if (binaryOperator(eq) === '=') {
        const left = eq.childForFieldName('left');
        if (left) patterns.push(left);
      }
  for (const p of patterns)
    for (const pair of p.descendantsOfType('pair')) {
      const value = pair.childForFieldName('value');
      const key = pair.childForFieldName('key');
      if (value?.type === 'identifier' && value.text === name && key && pair.parent?.parent?.type === 'map_content') return keywordText(key);
    }
  return undefined;
}

/** `table()` / `Mod.table()` where that function's only clause returns a literal atom. */
export function zeroArityAtom(project: ProjectIndex, call: SyntaxNode, mod: ModuleDef): string | undefined {
  const hasArgs = call.namedChildren.find((c) => c.type === 'arguments');
  if (hasArgs && codeChildren(hasArgs).length) return undefined;
  const target = call.childForFieldName('target');
  let fnMod: ModuleDef | undefined = mod;
  let name: string | undefined;
  if (target?.type === 'identifier') name = target.text;
  else if (target?.type === 'dot') {
    const left = target.childForFieldName('left');
    const right = target.childForFieldName('right');
    if (left?.type !== 'alias' || right?.type !== 'identifier') return undefined;
    fnMod = project.modules.get(literalAtom(left, mod) ?? '');
    name = right.text;
  }
  const fn = name ? fnMod?.functions.get(`${name}/0`) : undefined;
  if (!fn || fn.clauses.length !== 1 || !fn.clauses[0].body) return undefined;
  const clause = fn.clauses[0];
  const body = clause.oneLiner ? clause.body! : codeChildren(clause.body!).length === 1 ? codeChildren(clause.body!)[0] : undefined;
  return body ? literalAtom(body, fn.module) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Processes

interface CallerIndex {
  /** `Mod.fun/arity` → remote call sites (not captures) in the project, with their clauses. */
  remote: Map<string, Array<{ site: CallSite; clause: Clause }>>;
  /** Functions referenced by a capture (`&Mod.fun/2`, `&fun/2`) anywhere: they run wherever the holder calls them. */
  captured: Set<FunctionDef>;
}

function callerIndex(project: ProjectIndex): CallerIndex {
  return project.memo('ets-process:callers', () => {
    const remote = new Map<string, Array<{ site: CallSite; clause: Clause }>>();
    const captured = new Set<FunctionDef>();
    for (const file of project.files)
      for (const mod of file.modules)
        for (const fn of uniqueFunctions(mod))
          for (const clause of fn.clauses)
            for (const site of clause.calls) {
              if (site.capture && !runsInPlace(site)) {
                const target = site.module && site.module !== mod.name ? project.modules.get(site.module) : mod;
                const f = target?.functions.get(`${site.name}/${site.arity}`);
                if (f) captured.add(f);
                continue;
              }
              if (!site.module || site.dynamic || site.module === mod.name) continue;
              const key = `${site.module}.${site.name}/${site.arity}`;
              append(remote, key, { site, clause });
            }
    return { remote, captured };
  });
}

/** A capture handed to Enum/Stream-style functions is called right there, in the same process. */
function runsInPlace(site: CallSite): boolean {
  return !site.spawned && !!site.fnHost && /^(Enum|Stream|List|Map|Keyword|MapSet|:lists|:maps)\./.test(site.fnHost);
}

/**
 * The processes a function runs in. A server callback runs in its module's process; a private helper
 * in the processes of the functions calling it; a public function in the processes of its call sites
 * found in the scanned code, or in its callers (many processes) when it has none or is captured.
 */
export function fnProcesses(project: ProjectIndex, fn: FunctionDef): Proc[] {
  const cache = project.memo('ets-process:procs', () => new Map<FunctionDef, Proc[]>());
  const hit = cache.get(fn);
  if (hit) return hit;
  const result = computeProcesses(project, fn);
  cache.set(fn, result);
  return result;
}

/** How many hops of callers are followed from the function asked about. */
const MAX_CALLER_DEPTH = 12;

/**
 * A depth-first walk up the callers graph that expands each function once (again only when reached
 * at a smaller depth, so the depth bound cuts where a path-by-path walk would): linear in the calls
 * reachable, where following every caller path was exponential in real call graphs. The processes
 * come out in the order, and with the duplicates dropped, of the path-by-path walk.
 */
function computeProcesses(project: ProjectIndex, root: FunctionDef): Proc[] {
  const out: Proc[] = [];
  const expandedAt = new Map<FunctionDef, number>();
  const onPath = new Set<FunctionDef>();
  const index = callerIndex(project);
  const visit = (fn: FunctionDef, depth: number): void => {
    if (onPath.has(fn) || depth > MAX_CALLER_DEPTH) return;
    const before = expandedAt.get(fn);
    if (before !== undefined && before <= depth) return;
    expandedAt.set(fn, depth);
    onPath.add(fn);
    const mod = fn.module;
    if (fn.isCallback && isProcessModule(mod)) out.push({ kind: 'server', module: mod });
    // Application.start/2 runs once, in the application master's process, which lives as long as the app.
    const appStart = mod.kinds.has('application') && fn.name === 'start' && fn.arity === 2;
    if (appStart) out.push({ kind: 'server', module: mod });
    const starter = isProcessModule(mod) && fn.name === 'start_link' && fn.kind === 'def';
    for (const { site, from } of localCallers(project, mod).get(fn) ?? []) {
      if (site.spawned) out.push({ kind: 'spawned', via: from });
      else if (site.capture && !runsInPlace(site)) out.push({ kind: 'callers', via: fn });
      else visit(from, depth + 1);
    }
    if (fn.kind === 'def' || fn.kind === 'defmacro') {
      const sites = index.remote.get(`${mod.name}.${fn.name}/${fn.arity}`) ?? [];
      for (const { site, clause } of sites)
        if (site.spawned) out.push({ kind: 'spawned', via: clause.fn });
        else visit(clause.fn, depth + 1);
      if (index.captured.has(fn)) out.push({ kind: 'callers', via: fn });
      // A public function nobody in the scan calls is an API: its callers are other processes.
      if (!sites.length && !fn.isCallback && !appStart) out.push(starter ? { kind: 'starter', via: fn } : { kind: 'callers', via: fn });
    }
    onPath.delete(fn);
  };
  visit(root, 0);
  return dedupe(out);
}

/** Per module: function → the local call sites (and captures) that reach it from other functions. */
function localCallers(project: ProjectIndex, mod: ModuleDef): Map<FunctionDef, Array<{ site: CallSite; from: FunctionDef }>> {
  const all = project.memo('ets-process:local-callers', () => new Map<ModuleDef, Map<FunctionDef, Array<{ site: CallSite; from: FunctionDef }>>>());
  let index = all.get(mod);
  if (!index) {
    index = new Map();
    for (const from of uniqueFunctions(mod))
      for (const clause of from.clauses)
        for (const site of clause.calls) {
          const target = localTarget(site, mod);
          if (!target || target === from) continue;
          append(index, target, { site, from });
        }
    all.set(mod, index);
  }
  return index;
}

function dedupe(procs: Proc[]): Proc[] {
  const seen = new Map<string, Proc>();
  for (const p of procs) {
    const key =
      p.kind === 'server' ? `server:${p.module.name}` : p.kind === 'callers' ? `callers:${p.via.module.name}.${p.via.name}/${p.via.arity}` : `${p.kind}:${p.via.module.name}`;
    if (!seen.has(key)) seen.set(key, p);
  }
  return [...seen.values()];
}

/** The processes an operation runs in: a closure handed to Task/spawn runs in a new process. */
export function siteProcesses(project: ProjectIndex, fn: FunctionDef, site: CallSite): Proc[] {
  if (site.spawned) return [{ kind: 'spawned', via: fn }];
  return fnProcesses(project, fn);
}

/** Many processes can run this concurrently (clients of an API, spawned closures). */
export function isMany(procs: Proc[]): boolean {
  return procs.some((p) => p.kind === 'callers' || p.kind === 'spawned');
}

export function sameProc(a: Proc, b: Proc): boolean {
  if (a.kind === 'starter' && b.kind === 'starter') return a.via.module === b.via.module;
  return a.kind === 'server' && b.kind === 'server' && a.module === b.module;
}

/** `callers of A.f/1, A.g/2 and Mod's process`: every distinct process, callers grouped. */
export function describeProcs(procs: Proc[], limit = 3): string {
  const callers = procs.filter((p) => p.kind === 'callers').map((p) => `${p.via.module.name}.${p.via.name}/${p.via.arity}`);
  const uniq = [...new Set(callers)];
  const parts: string[] = [];
  if (uniq.length) parts.push(`callers of ${uniq.slice(0, limit).join(', ')}${uniq.length > limit ? ` and ${uniq.length - limit} more` : ''}`);
  for (const p of dedupe(procs.filter((p) => p.kind !== 'callers'))) parts.push(procLabel(p));
  return parts.join(' and ');
}

export function procLabel(p: Proc): string {
  if (p.kind === 'server') return `${p.module.name}'s process`;
  if (p.kind === 'starter') return `the process starting ${p.via.module.name} (its supervisor)`;
  if (p.kind === 'spawned') return `a process spawned in ${p.via.module.name}.${p.via.name}/${p.via.arity}`;
  return `callers of ${p.via.module.name}.${p.via.name}/${p.via.arity}`;
}

// ---------------------------------------------------------------------------------------------
// Operations per table

/** Every resolved operation in the project (memoized). */
export function allSites(project: ProjectIndex): EtsSite[] {
  return project.memo('ets-process:all-sites', () => project.ops.map((op) => resolveSite(project, op)));
}

/** The resolved operations of one module. */
export function moduleSites(project: ProjectIndex, mod: ModuleDef): EtsSite[] {
  return moduleEts(mod).ops.map((op) => resolveSite(project, { ...op, module: mod }));
}

/** Operations that can touch `table` (by creation site, name or state field). */
export function sitesOnTable(project: ProjectIndex, table: EtsTable): EtsSite[] {
  const cache = project.memo('ets-process:on-table', () => new Map<EtsTable, EtsSite[]>());
  let found = cache.get(table);
  if (!found) {
    found = allSites(project).filter((s) => s.kind !== 'create' && s.tables.includes(table));
    cache.set(table, found);
  }
  return found;
}

/** `:buckets`, `MyApp.Cache` (a table named after a module), `the table in state.table`. */
export function tableLabel(table: EtsTable): string {
  const created = `${table.module.name}.${table.fn.name}/${table.fn.arity}`;
  if (table.named && table.name) return /^[A-Z]/.test(table.name) ? `the ${table.name} table` : `:${table.name}`;
  if (table.field) return `the table in state.${table.field} (created in ${created})`;
  return `the table created in ${created}`;
}

export const WRITE_KINDS = new Set(['write', 'delete']);

export interface Writer {
  site: EtsSite;
  procs: Proc[];
}

/** Who writes a table, with the processes each write runs in. */
export function writersOf(project: ProjectIndex, table: EtsTable): Writer[] {
  return sitesOnTable(project, table)
    .filter((s) => WRITE_KINDS.has(s.kind))
    .map((site) => ({ site, procs: siteProcesses(project, site.fn, site.site) }));
}

/** `RateLimiter.hit/2 (callers) and Cleaner.handle_info/2 (Cleaner's process)`, each function once. */
export function describeWriters(writers: Writer[], limit = 4): string {
  const byFn = new Map<FunctionDef, Proc[]>();
  for (const w of writers) append(byFn, w.site.fn, ...w.procs);
  const parts = [...byFn].map(([fn, procs]) => `${fn.module.name}.${fn.name}/${fn.arity} (${whereRuns(dedupe(procs))})`);
  const shown = parts.slice(0, limit).join(', ');
  return parts.length > limit ? `${shown} and ${parts.length - limit} more` : shown;
}

function whereRuns(procs: Proc[]): string {
  if (!procs.length) return 'no caller in the scan';
  const label = (p: Proc) =>
    p.kind === 'server' ? `${p.module.name}'s process` : p.kind === 'spawned' ? 'spawned processes' : p.kind === 'starter' ? 'its starter' : 'callers';
  return procs.map(label).join(' and ');
}
