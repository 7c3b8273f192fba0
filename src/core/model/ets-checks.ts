/**
 * Check-then-act sequences on ETS tables within one clause: a read (`lookup`, `lookup_element`,
 * `member`, `info(t, :size)`) followed by a write whose execution or value depends on what was read,
 * directly or through local helpers (`get_bucket(key)` then `increment_bucket(key)`). Shared by the
 * ETS rules; which of these are races is decided with ets-process.ts.
 */
import type { SyntaxNode } from '../parse.js';
import { binaryOperator, callArguments, codeChildren, descendants, isInside } from '../query.js';
import { guardsOn, stabHead, Taint, type Guarding } from './dataflow.js';
import { localTarget, type CallSite, type Clause, type FunctionDef } from './module.js';
import type { ProjectIndex } from './project.js';
import { moduleSites, type EtsSite } from './ets-process.js';

export type ActRole = 'check' | 'write';

/** An ETS read or write in a clause: an `:ets` call, or a call to a local helper that performs one. */
export interface Act {
  node: SyntaxNode;
  role: ActRole;
  /** The ETS function (`lookup`, `insert`, ...), or the helper's underlying operation. */
  op: string;
  /** The underlying ETS operations (one for a direct call). */
  sites: EtsSite[];
  /** The helper called, when the act is indirect. */
  via?: FunctionDef;
  call: CallSite;
}

const CHECK_OPS = new Set(['lookup', 'lookup_element', 'member']);
const WRITE_OPS = new Set(['insert', 'update_counter', 'update_element', 'delete']);

export function roleOf(site: EtsSite): ActRole | undefined {
  if (site.site.spawned) return undefined;
  if (CHECK_OPS.has(site.op)) return 'check';
  if (site.op === 'info' && site.site.args[1]?.text === ':size') return 'check';
  if (WRITE_OPS.has(site.op) && !(site.op === 'delete' && site.site.arity === 1)) return 'write';
  return undefined;
}

/** ETS checks and writes a function performs, itself or through same-process local helpers. */
function effects(project: ProjectIndex, fn: FunctionDef, depth = 0, seen = new Set<FunctionDef>()): EtsSite[] {
  const cache = project.memo('ets-checks:effects', () => new Map<FunctionDef, EtsSite[]>());
  if (depth === 0 && cache.has(fn)) return cache.get(fn)!;
  if (seen.has(fn) || depth > 3) return [];
  seen.add(fn);
  const own = moduleSites(project, fn.module).filter((s) => s.fn === fn && roleOf(s));
  const out = [...own];
  for (const clause of fn.clauses)
    for (const call of clause.calls) {
      if (call.spawned || call.capture) continue;
      const target = localTarget(call, fn.module);
      if (target && target !== fn) out.push(...effects(project, target, depth + 1, seen));
    }
  if (depth === 0) cache.set(fn, out);
  return out;
}

/** The acts of one clause, in source order. */
export function actsIn(project: ProjectIndex, clause: Clause): Act[] {
  const mod = clause.fn.module;
  const acts: Act[] = [];
  for (const s of moduleSites(project, mod)) {
    if (s.clause !== clause) continue;
    const role = roleOf(s);
    if (role) acts.push({ node: s.site.node, role, op: s.op, sites: [s], call: s.site });
  }
  for (const call of clause.calls) {
    if (call.spawned || call.capture) continue;
    const target = localTarget(call, mod);
    if (!target || target === clause.fn) continue;
    const eff = effects(project, target);
    const checks = eff.filter((s) => roleOf(s) === 'check');
    const writes = eff.filter((s) => roleOf(s) === 'write');
    // A helper that both reads and writes is judged inside itself, not as one step here.
    if (checks.length && !writes.length) acts.push({ node: call.node, role: 'check', op: checks[0].op, sites: checks, via: target, call });
    if (writes.length && !checks.length) acts.push({ node: call.node, role: 'write', op: writes[0].op, sites: writes, via: target, call });
  }
  return acts.sort((a, b) => a.node.startIndex - b.node.startIndex);
}

/** Whether two acts can touch the same table. */
export function sameTable(a: Act, b: Act): boolean {
  for (const x of a.sites)
    for (const y of b.sites) {
      if (x.tables.length && y.tables.length) {
        if (x.tables.some((t) => y.tables.includes(t))) return true;
        continue;
      }
      if (x.named && y.named) {
        if (x.named === y.named) return true;
        continue;
      }
      // Unresolved: the same expression in the same clause (`table`, `state.table`).
      if (!a.via && !b.via && x.clause === y.clause && normalize(x.refText) === normalize(y.refText) && !x.named && !y.named) return true;
    }
  return false;
}

/** The key an act addresses, when the call shows it (`lookup(t, k)`, `insert(t, {k, ...})`). */
function keyOf(act: Act): SyntaxNode | undefined {
  if (act.via) return undefined;
  const args = act.call.args;
  if (act.op === 'insert') return args[1]?.type === 'tuple' ? codeChildren(args[1])[0] : undefined;
  if (act.op === 'info') return undefined;
  return args[1];
}

/**
 * Different keys (`lookup(t, :enforce_keys)` then `insert(t, {:struct, ...})`) are different records;
 * a record keyed by the calling process (`self()`) is written by that process only.
 */
function sameKey(a: Act, b: Act): boolean {
  const ka = keyOf(a);
  const kb = keyOf(b);
  if (kb && /^self\(\)$/.test(normalize(kb.text))) return false;
  return !ka || !kb || normalize(ka.text) === normalize(kb.text);
}

const LOCK_HOSTS = /^(lock|with_lock|transaction|trans|synchronized?|serialized?|isolated|critical_section|mutex)$/;

/** Inside a function handed to a lock (`Registry.lock(..., fn -> ... end)`, `:global.trans/2`, `transaction/2`). */
function underLock(node: SyntaxNode, body: SyntaxNode): boolean {
  for (let n = node.parent; n && n.id !== body.id; n = n.parent) {
    if (n.type !== 'anonymous_function') continue;
    const host = n.parent?.type === 'arguments' ? n.parent.parent : undefined;
    const target = host?.childForFieldName('target');
    const name = target?.type === 'dot' ? target.childForFieldName('right')?.text : target?.text;
    if (name && LOCK_HOSTS.test(name)) return true;
  }
  return false;
}

function normalize(text: string): string {
  return text.replace(/\s+/g, '');
}

export type Idiom =
  | 'counter'
  | 'ttl-delete'
  | 'insert-if-absent'
  | 'read-modify-write'
  | 'update-if-present'
  | 'read-then-delete'
  | 'size-check';

export interface CheckThenAct {
  clause: Clause;
  check: Act;
  write: Act;
  idiom: Idiom;
  guards: Guarding[];
  taint: Taint;
}

/** Every dependent check → write pair of a clause, the nearest check for each write. */
export function checkThenActs(project: ProjectIndex, clause: Clause): CheckThenAct[] {
  const body = clause.body;
  if (!body) return [];
  const acts = actsIn(project, clause);
  const out: CheckThenAct[] = [];
  for (const write of acts) {
    if (write.role !== 'write') continue;
    // A read before the write, or nested in its value (`insert(t, {k, f.(lookup_element(t, k, 2))})`).
    const valueArgsOf = valueArgs(write);
    const before = (k: Act) => k.node.endIndex <= write.node.startIndex || valueArgsOf.some((a) => isInside(k.node, a));
    const checks = acts.filter(
      (k) => k.role === 'check' && k !== write && before(k) && !isInside(write.node, k.node) && sameTable(k, write) && sameKey(k, write),
    );
    for (const check of checks.reverse()) {
      if (underLock(check.node, body) && underLock(write.node, body)) continue;
      const taint = new Taint(check.node, body);
      const guards = guardsOn(write.node, taint);
      const idiom = classify(check, write, guards, taint);
      if (idiom) {
        out.push({ clause, check, write, idiom, guards, taint });
        break;
      }
    }
  }
  return out;
}

/** The value arguments of a write (after the table). */
function valueArgs(write: Act): SyntaxNode[] {
  return write.via ? callArguments(write.node) : write.call.args.slice(1);
}

function classify(check: Act, write: Act, guards: Guarding[], taint: Taint): Idiom | undefined {
  const args = valueArgs(write);
  const dataDep = args.some((a) => taint.feeds(a));
  const arithmetic = args.some((a) => hasArithmeticOn(a, taint));
  const compare = guards.some((g) => g.branch === 'compare');
  const branch = guards.find((g) => g.branch === 'hit' || g.branch === 'miss')?.branch;
  if (!guards.length && !dataDep) return undefined;
  // Through a write helper only the clear idioms are trusted: what it writes is not visible here.
  if (write.via) {
    // An atomic update_counter in the branch that found the key is no race by itself: the check only
    // picked the branch. It is a counter race when a comparison on the read value decides.
    if (write.op === 'update_counter' && (compare || (!!check.via && guards.length > 0))) return 'counter';
    return branch === 'miss' && write.op === 'insert' ? 'insert-if-absent' : undefined;
  }
  if (check.op === 'info') return write.op === 'insert' && (compare || guards.length) ? 'size-check' : undefined;
  switch (write.op) {
    case 'update_counter':
      // Through a helper (`case get_bucket(k) do {:allow, _} -> increment(k)`) the comparison is inside it.
      return compare || (dataDep && arithmetic) || (!!check.via && guards.length > 0) ? 'counter' : undefined;
    case 'insert':
      if (arithmetic) return 'counter';
      if (branch === 'miss' && !dataDep) return cacheFill(write) ? undefined : 'insert-if-absent';
      if (dataDep) return 'read-modify-write';
      if (branch === 'hit') return 'update-if-present';
      if (compare) return 'read-modify-write';
      return undefined;
    case 'delete': {
      if (branch !== 'hit') return undefined;
      const hitIndex = guards.findIndex((g) => g.branch === 'hit');
      const inner = guards.slice(0, hitIndex);
      const stab = guards[hitIndex].stab;
      const guarded = !!stab && !!stabHead(stab).guard;
      return inner.length || guarded || compare ? 'ttl-delete' : 'read-then-delete';
    }
    case 'update_element':
      return dataDep ? 'read-modify-write' : undefined;
    default:
      return undefined;
  }
}

/** `count + 1`, `1 + count`, `count - cost` with a tainted operand. */
export function hasArithmeticOn(node: SyntaxNode, taint: Taint): boolean {
  for (const n of descendants(node)) {
    const op = binaryOperator(n);
    if ((op === '+' || op === '-') && taint.feeds(n)) return true;
  }
  return false;
}

/**
 * A cache fill on a miss: `[] -> value = compute(); :ets.insert(t, {key, value}); value`. The inserted
 * value is what this branch returns, computed from the key alone, so two processes that both miss
 * store equivalent values: duplicate work, not a lost write.
 */
function cacheFill(write: Act): boolean {
  const record = write.call.args[1];
  if (!record || record.type !== 'tuple') return false;
  const stmt = statementOf(write.node);
  const block = stmt?.parent;
  if (!stmt || !block) return false;
  const stmts = codeChildren(block).filter((c) => !c.type.endsWith('_block') && c.type !== 'stab_clause');
  const last = stmts[stmts.length - 1];
  if (!last || last.id === stmt.id || last.type !== 'identifier') return false;
  return codeChildren(record).slice(1).some((el) => el.type === 'identifier' && el.text === last.text);
}

/** The statement (a direct child of a block or stab body) holding `node`. */
function statementOf(node: SyntaxNode): SyntaxNode | undefined {
  for (let n: SyntaxNode | null = node; n?.parent; n = n.parent)
    if (['body', 'do_block', 'else_block'].includes(n.parent.type)) return n;
  return undefined;
}
