/**
 * Where a variable's value comes from: its binding in the clause (`now = System.monotonic_time()`),
 * or, for a parameter, what the callers of the function pass (followed a few hops, project-wide).
 * Syntax-level and conservative: anything it cannot follow is `undefined`, never a guess.
 */
import type { SyntaxNode } from '../parse.js';
import { binaryOperator, descendants } from '../query.js';
import type { ProjectIndex } from './project.js';
import { localTarget, uniqueFunctions, type CallSite, type Clause, type FunctionDef, type ModuleDef } from './module.js';

export interface Origin {
  node: SyntaxNode;
  /** The clause `node` is in, where its own variables are looked up. */
  clause: Clause;
}

/** `(expr)` → `expr`. */
export function unparen(node: SyntaxNode): SyntaxNode {
  let n = node;
  while (n.type === 'block' && n.namedChildren.filter((c) => c.type !== 'comment').length === 1)
    n = n.namedChildren.find((c) => c.type !== 'comment')!;
  return n;
}

/**
 * The expressions `name` can hold where it is used (at offset `at` of `clause`): the last `name = expr`
 * before it in an enclosing block, else the arguments every caller passes for that parameter.
 */
export function valueOrigins(
  name: string,
  clause: Clause,
  at: number,
  project?: ProjectIndex,
  depth = 3,
  /** Parameters to stop at (their node is returned as the origin), e.g. a callback's state. */
  stopAt?: (clause: Clause, index: number) => boolean,
): Origin[] | undefined {
  if (!clause.body) return undefined;
  const binding = lastBinding(name, clause, at);
  if (binding === null) return undefined; // bound by a pattern we do not read
  if (binding) return [{ node: binding, clause }];
  const index = clause.params.findIndex((p) => paramName(p) === name);
  if (index < 0) return undefined;
  const param = clause.params[index];
  if (stopAt?.(clause, index)) return [{ node: param, clause }];
  if (depth <= 0) return undefined;
  const fallback = binaryOperator(param) === '\\\\' ? param.childForFieldName('right') ?? undefined : undefined;
  const sites = callersOf(clause.fn, project);
  if (!sites.length) return undefined;
  const origins: Origin[] = [];
  for (const { site, clause: caller } of sites) {
    const arg = site.args[index] ?? fallback;
    if (!arg) return undefined;
    const expr = unparen(arg);
    if (expr.type === 'identifier') {
      const more = valueOrigins(expr.text, caller, expr.startIndex, project, depth - 1, stopAt);
      if (!more) return undefined;
      origins.push(...more);
    } else origins.push({ node: expr, clause: caller });
  }
  return origins;
}

/** A parameter that is a plain variable (`x`, `x \\ default`). */
function paramName(param: SyntaxNode): string | undefined {
  if (param.type === 'identifier') return param.text;
  if (binaryOperator(param) === '\\\\') {
    const left = param.childForFieldName('left');
    return left?.type === 'identifier' ? left.text : undefined;
  }
  return undefined;
}

/**
 * The right side of the last `name = expr` before `at` whose block encloses `at`; `undefined` when the
 * variable is not bound by `=` in the clause, `null` when a pattern binds it in a way not followed
 * (`{:ok, name} = ...`, a `case` clause, a parameter pattern).
 */
function lastBinding(name: string, clause: Clause, at: number): SyntaxNode | undefined | null {
  let found: SyntaxNode | undefined;
  let patterned = false;
  for (const node of descendants(clause.body!, ['binary_operator', 'stab_clause'])) {
    if (node.startIndex >= at) break;
    if (binaryOperator(node) !== '=' && node.type !== 'stab_clause') continue;
    if (node.type !== 'stab_clause' && node.endIndex > at) continue; // `x = x + 1`: the use is its own right side
    const left = node.childForFieldName('left');
    if (!left) continue;
    const scope = node.parent;
    if (!scope || at < scope.startIndex || at > scope.endIndex) continue;
    if (node.type !== 'stab_clause' && left.type === 'identifier' && left.text === name) {
      found = node.childForFieldName('right') ?? undefined;
      patterned = false;
    } else if (bindsIn(left, name)) {
      found = undefined;
      patterned = true;
    }
  }
  if (found) return unparen(found);
  if (patterned) return null;
  return clause.params.some((p) => paramName(p) !== name && bindsIn(p, name)) ? null : undefined;
}

function bindsIn(pattern: SyntaxNode, name: string): boolean {
  for (const n of descendants(pattern, ['identifier'])) if (n.text === name) return true;
  return false;
}

/** Every call of `fn` in the project (local calls in its module, remote calls by module name). */
export function callersOf(fn: FunctionDef, project?: ProjectIndex): Array<{ site: CallSite; clause: Clause }> {
  const index = project ? project.memo('values:callers', () => mergeIndexes(project.perFile('values:callers:file', (f) => callIndex(f.modules)))) : callIndex([fn.module]);
  const found: Array<{ site: CallSite; clause: Clause }> = [];
  for (let arity = fn.minArity; arity <= fn.arity; arity++) {
    for (const call of index.get(`${fn.module.name}.${fn.name}/${arity}`) ?? []) {
      const mod = call.clause.fn.module;
      const target = mod === fn.module ? localTarget(call.site, mod) : fn.module.functions.get(`${fn.name}/${arity}`);
      if (target === fn) found.push(call);
    }
  }
  return found;
}

/** Call sites by the function they name (`Mod.fun/arity`), local calls under their own module. */
function mergeIndexes<T>(parts: Map<string, T[]>[]): Map<string, T[]> {
  const merged = new Map<string, T[]>();
  for (const part of parts)
    for (const [key, list] of part) {
      const into = merged.get(key);
      if (into) into.push(...list);
      else merged.set(key, [...list]);
    }
  return merged;
}

function callIndex(modules: ModuleDef[]): Map<string, Array<{ site: CallSite; clause: Clause }>> {
  const index = new Map<string, Array<{ site: CallSite; clause: Clause }>>();
  for (const mod of new Set(modules))
    for (const f of uniqueFunctions(mod))
      for (const clause of f.clauses)
        for (const site of clause.calls) {
          if (site.capture || site.dynamic) continue;
          const key = `${site.module ?? mod.name}.${site.name}/${site.arity}`;
          let list = index.get(key);
          if (!list) index.set(key, (list = []));
          list.push({ site, clause });
        }
  return index;
}

/**
 * What a call to a function of the project returns: the last expression of each clause of the
 * target (`defp entry(k, v), do: {k, v, now()}`), looked up in its own clause. Undefined for calls
 * the model cannot resolve (dynamic, other libraries, captures).
 */
export function returnedBy(call: SyntaxNode, clause: Clause, project?: ProjectIndex): Origin[] | undefined {
  if (call.type !== 'call') return undefined;
  const site = clause.calls.find((s) => s.node.id === call.id);
  if (!site || site.capture || site.dynamic) return undefined;
  const mod = clause.fn.module;
  const fn =
    site.module === undefined || site.module === mod.name
      ? localTarget(site, mod)
      : project?.modules.get(site.module)?.functions.get(`${site.name}/${site.arity}`);
  if (!fn || fn.kind.startsWith('defmacro') || !fn.clauses.length) return undefined;
  const origins: Origin[] = [];
  for (const c of fn.clauses) {
    if (!c.body) return undefined;
    const statements = c.oneLiner ? [c.body] : c.body.namedChildren.filter((n) => n.type !== 'comment' && !n.type.endsWith('_block'));
    const last = statements[statements.length - 1];
    if (!last) return undefined;
    origins.push({ node: unparen(last), clause: c });
  }
  return origins;
}
