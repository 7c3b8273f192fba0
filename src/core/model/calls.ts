/**
 * Synchronous calls between processes, project-wide: which code makes a `GenServer.call` (directly,
 * through local helpers, or through another module's public wrapper, several hops deep), to which
 * process (`self()`, a registered name, a pid handed in by the caller), and which module's
 * `handle_call` answers it. So `SomeRegistry.lookup(x)` from a callback counts as a call into
 * SomeRegistry's process.
 */
import type { SyntaxNode } from '../parse.js';
import { atomValue, binaryOperator, callArguments, callIdentifier, codeChildren, keywordPairs, keywordText } from '../query.js';
import type { ProjectIndex } from './project.js';
import {
  isProcessModule,
  literalAtom,
  localTarget,
  resolveModuleName,
  siteName,
  uniqueFunctions,
  type CallSite,
  type Clause,
  type FileModel,
  type FunctionDef,
  type ModuleDef,
} from './module.js';

/** Calls that block the caller until another process answers: where the server and request are. */
export const SYNC_PRIMITIVES: Record<string, { server: number; request: number; timeout?: number }> = {
  'GenServer.call': { server: 0, request: 1, timeout: 2 },
  ':gen_server.call': { server: 0, request: 1, timeout: 2 },
  'GenStage.call': { server: 0, request: 1, timeout: 2 },
  ':gen_statem.call': { server: 0, request: 1, timeout: 2 },
  'GenStateMachine.call': { server: 0, request: 1, timeout: 2 },
  'Agent.get': { server: 0, request: 1, timeout: 2 },
  'Agent.update': { server: 0, request: 1, timeout: 2 },
  'Agent.get_and_update': { server: 0, request: 1, timeout: 2 },
};

export const CAST_PRIMITIVES = new Set(['GenServer.cast', ':gen_server.cast', 'GenStage.cast', ':gen_statem.cast', 'Agent.cast']);

/** Who a call is addressed to, in terms of the code that makes it. */
export type Target =
  /** `self()`: the process running this code (`outer`: the one that ran the clause around a closure). */
  | { kind: 'self'; outer?: boolean }
  /** A locally registered name: a module name (`__MODULE__`, `MyApp.Registry`) or an atom. */
  | { kind: 'name'; name: string }
  /**
   * A parameter (optionally a key of it: `opts[:server]`, `%{pid: pid}`): the caller decides. `outer`:
   * a parameter of the clause around a closure (a captured variable), not of the closure itself.
   */
  | { kind: 'param'; index: number; key?: string; outer?: boolean }
  | { kind: 'unknown'; text: string };

/** One step from the summarised code towards the primitive: `site` (in `fn`) calls the next function. */
export interface Hop {
  fn: FunctionDef;
  site: CallSite;
}

export interface SyncCall {
  primitive: string;
  /** The primitive call itself and the clause it is written in. */
  site: CallSite;
  clause: Clause;
  /** Calls leading from the summarised code to the primitive; empty when it is written there. */
  hops: Hop[];
  /** The addressee, as seen from the summarised code. */
  target: Target;
  request?: SyntaxNode;
  timeout?: SyntaxNode;
  /** Made once per element of a collection (`Enum.each`, `for`) somewhere on the way. */
  loop: boolean;
}

/** The call in the summarised code that leads to (or is) the primitive. */
export function entrySite(call: SyncCall): CallSite {
  return call.hops[0]?.site ?? call.site;
}

/** The names of what a call passes through, `lookup/1 → do_lookup/2 → GenServer.call`. */
export function describeHops(call: SyncCall): string {
  return [...call.hops.slice(1).map((h) => `${h.fn.module.name}.${h.fn.name}/${h.fn.arity}`), call.primitive].join(' → ');
}

export function displayName(name: string): string {
  return /^[A-Z]/.test(name) ? name : `:${name}`;
}

// ---------------------------------------------------------------------------------------------
// Scopes and target resolution

/** Where names in an expression are looked up: a clause, or an `fn` nested in one (a closure). */
export interface Scope {
  mod: ModuleDef;
  /**
   * `base`: the code being summarised (its parameters are the targets' `param`s); `inner`: an `fn`
   * inside it (its parameters vary per call, so unknown); `outer`: the clause around a summarised
   * closure (its parameters are `outer` params).
   */
  role: 'base' | 'inner' | 'outer';
  /** Parameter patterns, in order. */
  params: SyntaxNode[];
  /** The code whose `x = ...` bindings are visible. */
  body?: SyntaxNode;
  /** For a closure: the clause around the `fn`. Names not bound in the closure resolve there. */
  outer?: Scope;
  clause?: Clause;
}

export function clauseScope(clause: Clause, role: Scope['role'] = 'base'): Scope {
  return { mod: clause.fn.module, role, params: clause.params, body: clause.body, clause };
}

/** The scope of an `fn` (its first clause's parameters), closing over `outer`. */
export function fnScope(fnNode: SyntaxNode, outer: Scope, role: Scope['role']): Scope {
  const stab = fnNode.namedChildren.find((c) => c.type === 'stab_clause');
  const left = stab?.childForFieldName('left');
  const params = left ? (left.type === 'arguments' ? codeChildren(left) : [left]) : [];
  return { mod: outer.mod, role, params, body: stab?.childForFieldName('right') ?? undefined, outer, clause: outer.clause };
}

/** The scope at `node`: `base` plus every `fn` between `root` and `node`, innermost last. */
export function scopeAt(node: SyntaxNode, root: SyntaxNode, base: Scope): Scope {
  const fns: SyntaxNode[] = [];
  for (let n = node.parent; n && n.id !== root.id; n = n.parent) if (n.type === 'anonymous_function') fns.unshift(n);
  let scope = base;
  for (const fnNode of fns) scope = fnScope(fnNode, scope, 'inner');
  return scope;
}

const NAME_DEPTH = 4;

/**
 * What an expression used as a server denotes in `scope`. `before` bounds the bindings considered
 * (the expression's own position).
 */
export function resolveTarget(expr: SyntaxNode | undefined, scope: Scope, before = expr?.startIndex ?? 0, depth = 0): Target {
  if (!expr) return { kind: 'unknown', text: '?' };
  const flat = expr.text.replace(/\s+/g, ' ');
  const unknown: Target = { kind: 'unknown', text: flat.length > 40 ? `${flat.slice(0, 37)}...` : flat };
  if (depth > NAME_DEPTH) return unknown;
  if (expr.type === 'call' && callIdentifier(expr) === 'self' && callArguments(expr).length === 0) return { kind: 'self' };
  if (expr.type === 'block' && codeChildren(expr).length === 1) return resolveTarget(codeChildren(expr)[0], scope, before, depth + 1);
  if (expr.type === 'atom' || expr.type === 'quoted_atom' || expr.type === 'alias' || (expr.type === 'identifier' && expr.text === '__MODULE__')) {
    const name = literalAtom(expr, scope.mod);
    return name !== undefined && name !== 'nil' ? { kind: 'name', name } : unknown;
  }
  if (expr.type === 'unary_operator' && expr.child(0)?.type === '@') {
    const attr = expr.childForFieldName('operand');
    const value = attr?.type === 'identifier' ? scope.mod.attributes.get(attr.text) : undefined;
    return value && value !== expr ? resolveTarget(value, { mod: scope.mod, role: 'base', params: [] }, value.endIndex, depth + 1) : unknown;
  }
  if (expr.type === 'identifier') return resolveVariable(expr.text, scope, before, depth) ?? unknown;
  // `opts[:server]`, `config.pid`
  const access = keyAccess(expr);
  if (access) {
    const base = resolveVariable(access.variable, scope, before, depth);
    if (base?.kind === 'param' && !base.key) return { ...base, key: access.key };
    return unknown;
  }
  // A local zero-argument helper that names the server: `defp server, do: __MODULE__`.
  if (expr.type === 'call' && callIdentifier(expr) && callArguments(expr).length === 0) {
    const fn = scope.mod.functions.get(`${callIdentifier(expr)}/0`);
    const clause = fn?.clauses.length === 1 ? fn.clauses[0] : undefined;
    const value = clause?.body && (clause.oneLiner ? clause.body : codeChildren(clause.body).filter((c) => !c.type.endsWith('_block')));
    const single = Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
    if (single) {
      const t = resolveTarget(single, clauseScope(clause!, 'outer'), single.endIndex, depth + 1);
      if (t.kind === 'name' || t.kind === 'self') return t;
    }
  }
  return unknown;
}

/** `x.key`, `x[:key]`, `Map.get(x, :key)`, `Keyword.get(x, :key)` → the variable and key. */
function keyAccess(expr: SyntaxNode): { variable: string; key: string } | undefined {
  if (expr.type === 'call') {
    const target = expr.childForFieldName('target');
    const hasArgs = expr.namedChildren.some((c) => c.type === 'arguments');
    if (target?.type === 'dot' && !hasArgs) {
      const left = target.childForFieldName('left');
      const right = target.childForFieldName('right');
      if (left?.type === 'identifier' && right?.type === 'identifier') return { variable: left.text, key: right.text };
    }
    if (target?.type === 'dot' && hasArgs && /^(Map|Keyword)\.(get|fetch!)$/.test(target.text)) {
      const [base, key] = callArguments(expr);
      const k = atomValue(key);
      if (base?.type === 'identifier' && k) return { variable: base.text, key: k };
    }
  }
  if (expr.type === 'access_call') {
    const base = expr.childForFieldName('target');
    const key = atomValue(expr.childForFieldName('key') ?? undefined);
    if (base?.type === 'identifier' && key) return { variable: base.text, key };
  }
  return undefined;
}

function resolveVariable(name: string, scope: Scope, before: number, depth: number): Target | undefined {
  if (name.startsWith('_')) return undefined;
  for (let s: Scope | undefined = scope; s; s = s.outer) {
    const bound = bindingOf(name, s, before);
    if (bound) {
      const t = resolveTarget(bound, s, bound.startIndex, depth + 1);
      if (s.role === 'outer' && (t.kind === 'self' || t.kind === 'param')) return { ...t, outer: true };
      return t;
    }
    const param = paramOf(name, s);
    if (param) {
      if (s.role === 'base') return param;
      // A closure variable bound to a parameter of the clause around the summarised `fn`.
      if (s.role === 'outer' && param.kind === 'param') return { ...param, outer: true };
      return undefined;
    }
  }
  return undefined;
}

/** The right-hand side of the last `name = expr` in the scope's body before `before`. */
export function bindingOf(name: string, scope: Scope, before: number): SyntaxNode | undefined {
  if (!scope.body) return undefined;
  let found: SyntaxNode | undefined;
  for (const node of scope.body.descendantsOfType('binary_operator')) {
    if (node.endIndex > before) break;
    if (binaryOperator(node) !== '=') continue;
    const left = node.childForFieldName('left');
    if (left?.type === 'identifier' && left.text === name) found = node.childForFieldName('right') ?? undefined;
  }
  return found;
}

/** `name`, `name \\ default`, `pattern = name`, or `%{key: name}` among the parameters. */
export function paramOf(name: string, scope: Scope): Target | undefined {
  for (let i = 0; i < scope.params.length; i++) {
    let p = scope.params[i];
    if (binaryOperator(p) === '\\\\') p = p.childForFieldName('left')!;
    if (p.type === 'identifier' && p.text === name) return { kind: 'param', index: i };
    if (binaryOperator(p) === '=') {
      const sides = [p.childForFieldName('left'), p.childForFieldName('right')];
      if (sides.some((s) => s?.type === 'identifier' && s.text === name)) return { kind: 'param', index: i };
      p = sides.find((s) => s?.type === 'map') ?? p;
    }
    if (p.type === 'map')
      for (const pair of p.descendantsOfType('pair')) {
        const value = pair.childForFieldName('value');
        const key = pair.childForFieldName('key');
        if (value?.type === 'identifier' && value.text === name && key && pair.parent?.parent?.parent?.id === p.id)
          return { kind: 'param', index: i, key: keywordText(key) };
      }
  }
  return undefined;
}

/**
 * Which argument of a call with `given` arguments fills parameter `index` of a function with
 * defaults: required parameters take arguments first, the remaining ones go to the defaulted
 * parameters from the left (`def f(a \\ 1, b)` called as `f(x)` binds `b`). Undefined: the default.
 */
function argumentFor(fn: FunctionDef, index: number, given: number): number | undefined {
  const head = fn.clauses.find((c) => c.params.some((p) => binaryOperator(p) === '\\\\')) ?? fn.clauses[0];
  if (!head) return index;
  const defaulted = head.params.map((p) => binaryOperator(p) === '\\\\');
  let spare = given - defaulted.filter((d) => !d).length;
  let next = 0;
  for (let i = 0; i < defaulted.length; i++) {
    const takes = !defaulted[i] || spare-- > 0;
    if (i === index) return takes ? next : undefined;
    if (takes) next++;
  }
  return undefined;
}

/** The default value of parameter `index` (`server \\ __MODULE__`), if it has one. */
function paramDefault(fn: FunctionDef, index: number): { expr: SyntaxNode; clause: Clause } | undefined {
  for (const clause of fn.clauses) {
    const p = clause.params[index];
    if (p && binaryOperator(p) === '\\\\') return { expr: p.childForFieldName('right')!, clause };
  }
  return undefined;
}

/**
 * A parameter target seen from a call site: the argument the site passes (or the default when it
 * passes none), resolved where the site is.
 */
export function bindParam(target: Target, site: CallSite, callee: FunctionDef | undefined, scope: Scope): Target {
  if (target.kind !== 'param' || target.outer) return target;
  const argIndex = callee && !site.capture && site.arity < callee.arity ? argumentFor(callee, target.index, site.arity) : target.index;
  const arg = site.capture || argIndex === undefined ? undefined : site.args[argIndex];
  if (!arg) {
    const def = callee && !site.capture && site.arity < callee.arity ? paramDefault(callee, target.index) : undefined;
    if (def && !target.key) {
      const t = resolveTarget(def.expr, clauseScope(def.clause, 'outer'), def.expr.startIndex);
      return t.kind === 'param' ? { kind: 'unknown', text: def.expr.text } : t;
    }
    return { kind: 'unknown', text: `argument ${target.index + 1} of ${site.name}` };
  }
  if (target.key) {
    const value = keyValue(arg, target.key);
    if (value) return resolveTarget(value, scope, site.node.startIndex);
    const base = resolveTarget(arg, scope, site.node.startIndex);
    if (base.kind === 'param' && !base.key) return { ...base, key: target.key };
    return { kind: 'unknown', text: `${arg.text.slice(0, 30)}[:${target.key}]` };
  }
  return resolveTarget(arg, scope, site.node.startIndex);
}

/** The value under `key` in a literal map or keyword list. */
export function keyValue(node: SyntaxNode, key: string): SyntaxNode | undefined {
  const pairs = node.type === 'map' ? node.descendantsOfType('pair').filter((p) => p.parent?.parent?.parent?.id === node.id) : keywordPairs(node)?.map((p) => p.pair);
  for (const pair of pairs ?? []) {
    const k = pair.childForFieldName('key');
    if (k && keywordText(k) === key) return pair.childForFieldName('value') ?? undefined;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Which code runs now, in this process

/** Functions taking a function argument that they call right away, in the calling process. */
const IMMEDIATE_MODULES = new Set(['Enum', 'Stream', 'List', 'Map', 'Keyword', 'MapSet', ':lists', ':maps', 'Access', ':ets']);
const IMMEDIATE_FUNCTIONS = new Set(['then', 'tap', 'Kernel.then', 'Kernel.tap']);
const LOOP_MODULES = new Set(['Enum', 'Stream', ':lists', ':maps', ':ets']);
const LOOP_FUNCTIONS = new Set(['Map.new', 'Map.filter', 'Map.reject', 'Map.map', 'MapSet.new', 'Keyword.new', 'List.foldl', 'List.foldr']);

function hostName(fnNode: SyntaxNode, mod: ModuleDef): string | undefined {
  const args = fnNode.parent;
  const call = args?.type === 'arguments' && args.parent?.type === 'call' ? args.parent : undefined;
  const target = call?.childForFieldName('target');
  if (!target) return undefined;
  if (target.type === 'identifier') return target.text;
  if (target.type !== 'dot') return undefined;
  const left = target.childForFieldName('left');
  const right = target.childForFieldName('right');
  const module = left ? resolveModuleName(left, mod) : undefined;
  return module && right ? `${module}.${right.text}` : undefined;
}

function isFnNode(n: SyntaxNode): boolean {
  return n.type === 'anonymous_function' || (n.type === 'unary_operator' && n.child(0)?.type === '&');
}

/**
 * Whether `node` runs when `root` runs, in the same process, right then: every `fn` between them is
 * handed to a function that calls it immediately (`Enum.map`, `then`), not stored or sent elsewhere
 * (`Task.start`, `:telemetry.attach`, `Agent.update`, a variable). Also says whether it is in a loop.
 */
export function runsWith(node: SyntaxNode, root: SyntaxNode, mod: ModuleDef): { now: boolean; loop: boolean } {
  let loop = false;
  for (let n: SyntaxNode | null = node; n && n.id !== root.id; n = n.parent) {
    if (n.type === 'call' && callIdentifier(n) === 'for' && n.id !== node.id) loop = true;
    if (!isFnNode(n)) continue;
    const host = hostName(n, mod);
    if (!host) return { now: false, loop };
    const module = host.includes('.') ? host.slice(0, host.lastIndexOf('.')) : undefined;
    if ((module && LOOP_MODULES.has(module)) || LOOP_FUNCTIONS.has(host)) loop = true;
    if (!(module && IMMEDIATE_MODULES.has(module)) && !IMMEDIATE_FUNCTIONS.has(host)) return { now: false, loop };
  }
  return { now: true, loop };
}

// ---------------------------------------------------------------------------------------------
// Summaries

const MAX_HOPS = 6;
const MAX_CALLS = 40;

interface CallsCache {
  summaries: Map<FunctionDef, SyncCall[]>;
  inProgress: Set<FunctionDef>;
}

function cache(project: ProjectIndex): CallsCache {
  return project.memo('model:calls', () => ({ summaries: new Map(), inProgress: new Set() }));
}

/** The function a call site reaches in the scanned code: local, `__MODULE__.f`, or another module's `def`. */
export function calleeOf(site: CallSite, from: ModuleDef, project: ProjectIndex): FunctionDef | undefined {
  if (site.dynamic) return undefined;
  const local = localTarget(site, from);
  if (local) return local;
  if (!site.module) return undefined;
  const fn = project.modules.get(site.module)?.functions.get(`${site.name}/${site.arity}`);
  return fn && fn.kind === 'def' ? fn : undefined;
}

/**
 * Every synchronous call `fn` makes in its own process, directly or through functions it calls in
 * the scanned code (local helpers, other modules' public wrappers), with targets relative to `fn`.
 */
export function syncCallsOf(fn: FunctionDef, project: ProjectIndex): SyncCall[] {
  const c = cache(project);
  const known = c.summaries.get(fn);
  if (known) return known;
  if (c.inProgress.has(fn)) return [];
  c.inProgress.add(fn);
  const out: SyncCall[] = [];
  try {
    for (const clause of fn.clauses) {
      if (!clause.body) continue;
      const calls = syncCallsIn(clause.body, clause.calls, clauseScope(clause), project, fn, 0);
      // `defp notify([pid | rest]) do ... notify(rest) end` iterates like Enum.each.
      out.push(...(recursesOnTail(clause) ? calls.map((c) => ({ ...c, loop: true })) : calls));
      if (out.length >= MAX_CALLS) break;
    }
  } finally {
    c.inProgress.delete(fn);
  }
  const result = out.slice(0, MAX_CALLS);
  c.summaries.set(fn, result);
  return result;
}

/**
 * The synchronous calls made when `root` runs: `sites` are the call sites to consider (those inside
 * `root`), `scope` resolves their arguments, `owner` is the function they are written in.
 */
export function syncCallsIn(
  root: SyntaxNode,
  sites: CallSite[],
  scope: Scope,
  project: ProjectIndex,
  owner: FunctionDef,
  depth = 0,
): SyncCall[] {
  const out: SyncCall[] = [];
  const clause = scope.clause!;
  for (const site of sites) {
    if (site.node.startIndex < root.startIndex || site.node.endIndex > root.endIndex) continue;
    const name = siteName(site);
    const spec = !site.capture ? SYNC_PRIMITIVES[name] : undefined;
    // Cheap questions first: walking up the tree (runsWith, scopeAt) is only worth it for calls that matter.
    const callee = spec && site.arity >= 2 ? undefined : depth < MAX_HOPS ? calleeOf(site, scope.mod, project) : undefined;
    const inner = callee && callee !== owner ? syncCallsOf(callee, project) : [];
    if (!(spec && site.arity >= 2) && !inner.length) continue;
    // A capture only runs here when an immediate host (`Enum.map(xs, &f/1)`) calls it.
    const runs = runsWith(site.node, root, scope.mod);
    if (!runs.now) continue;
    const siteScope = scopeAt(site.node, root, scope);
    if (spec && site.arity >= 2) {
      const server = site.args[spec.server];
      out.push({
        primitive: name,
        site,
        clause,
        hops: [],
        target: resolveTarget(server, siteScope, site.node.startIndex),
        request: site.args[spec.request],
        timeout: spec.timeout !== undefined ? site.args[spec.timeout] : undefined,
        loop: runs.loop,
      });
      continue;
    }
    for (const call of inner) {
      out.push({
        ...call,
        hops: [{ fn: owner, site }, ...(call.hops.length ? call.hops : [{ fn: callee!, site: call.site }])].slice(0, MAX_HOPS + 1),
        target: bindParam(call.target, site, callee!, siteScope),
        loop: call.loop || runs.loop,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Servers: registered names and who answers a request

const START_FUNCTIONS: Record<string, { module: number | 'self'; opts: number }> = {
  'GenServer.start_link': { module: 0, opts: 2 },
  'GenServer.start': { module: 0, opts: 2 },
  'GenStage.start_link': { module: 0, opts: 2 },
  'GenStage.start': { module: 0, opts: 2 },
  'Agent.start_link': { module: 'self', opts: 1 },
  'Agent.start': { module: 'self', opts: 1 },
  'GenStateMachine.start_link': { module: 0, opts: 2 },
};

/** Registered name → the modules started under it (`GenServer.start_link(M, arg, name: X)`). */
export function registeredNames(project: ProjectIndex): Map<string, Set<string>> {
  return project.memo('model:calls:registered', () => {
    const names = new Map<string, Set<string>>();
    for (const pairs of project.perFile('model:calls:registered:file', fileRegistrations))
      for (const [name, module] of pairs) {
        if (!names.has(name)) names.set(name, new Set());
        names.get(name)!.add(module);
      }
    return names;
  });
}

/** `[registered name, module]` for every process a file starts under a name. */
function fileRegistrations(file: FileModel): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const add = (name: string | undefined, module: string | undefined) => {
    if (name && module && name !== 'nil') out.push([name, module]);
  };
  for (const mod of file.modules)
    for (const fn of uniqueFunctions(mod))
      for (const clause of fn.clauses)
        for (const site of clause.calls) {
          if (site.capture) continue;
          const name = siteName(site);
          const spec = START_FUNCTIONS[name];
          if (spec) {
            const opts = site.args[spec.opts];
            const nameNode = opts ? keyValue(opts, 'name') : undefined;
            const module = spec.module === 'self' ? mod.name : site.args[spec.module] ? resolveModuleName(site.args[spec.module], mod) : undefined;
            if (nameNode) add(literalAtom(nameNode, mod), module);
          } else if ((name === ':gen_server.start_link' || name === ':gen_server.start') && site.arity === 4) {
            const [reg, module] = site.args;
            const items = reg?.type === 'tuple' ? codeChildren(reg) : [];
            if (atomValue(items[0]) === 'local') add(literalAtom(items[1], mod), resolveModuleName(module, mod));
          }
        }
  return out;
}

/** The names a module's processes register under (its own name counts when its API calls it so). */
export function namesOf(mod: ModuleDef, project: ProjectIndex): Set<string> {
  const out = new Set<string>();
  for (const [name, modules] of registeredNames(project)) if (modules.has(mod.name)) out.add(name);
  return out;
}

export interface Server {
  module: ModuleDef;
  /** How we know: `self` (the caller's own process), `name` (registered or module name), `message` (only its handle_call matches). */
  how: 'self' | 'name' | 'message';
}

/**
 * Which module's process answers a call, seen from the code in `from` that makes it (after the
 * target is bound there). `self` resolves to `from` when `from` is a process module.
 */
export function serverOf(call: SyncCall, target: Target, from: ModuleDef, project: ProjectIndex): Server | undefined {
  if (target.kind === 'self') return isProcessModule(from) ? { module: from, how: 'self' } : undefined;
  if (target.kind === 'name') {
    const registered = registeredNames(project).get(target.name);
    if (registered?.size === 1) {
      const mod = project.modules.get([...registered][0]);
      if (mod) return { module: mod, how: 'name' };
    }
    const mod = project.modules.get(target.name);
    if (mod && (isProcessModule(mod) || mod.kinds.has('agent'))) return { module: mod, how: 'name' };
    return undefined;
  }
  // A pid: the module that writes the request is the one that answers it, when its handle_call matches.
  const owner = call.clause.fn.module;
  if (call.primitive.startsWith('Agent.')) return undefined;
  if (isProcessModule(owner) && call.request && handleCallsFor(owner, call.request).length) return { module: owner, how: 'message' };
  return undefined;
}

export type Match = 'yes' | 'maybe' | 'no';

/** Whether a clause pattern can match a request expression (syntactically: literals, tuples, vars). */
export function requestMatch(pattern: SyntaxNode, expr: SyntaxNode): Match {
  if (binaryOperator(pattern) === '=') {
    const l = pattern.childForFieldName('left')!;
    const r = pattern.childForFieldName('right')!;
    return combine([requestMatch(l, expr), requestMatch(r, expr)]);
  }
  if (pattern.type === 'identifier') return 'yes';
  if (pattern.type === 'unary_operator' && pattern.child(0)?.type === '^') return 'maybe';
  if (binaryOperator(expr) === '=') return requestMatch(pattern, expr.childForFieldName('right')!);
  const literal = (n: SyntaxNode) => ['atom', 'quoted_atom', 'string', 'integer', 'float', 'boolean', 'nil', 'charlist'].includes(n.type);
  if (literal(pattern)) {
    if (literal(expr)) return normalizeLiteral(pattern) === normalizeLiteral(expr) ? 'yes' : 'no';
    return ['tuple', 'list', 'map'].includes(expr.type) ? 'no' : 'maybe';
  }
  if (pattern.type === 'tuple') {
    if (expr.type === 'tuple') {
      const ps = codeChildren(pattern);
      const es = codeChildren(expr);
      if (ps.length !== es.length) return 'no';
      return combine(ps.map((p, i) => requestMatch(p, es[i])));
    }
    return literal(expr) || ['list', 'map'].includes(expr.type) ? 'no' : 'maybe';
  }
  if (pattern.type === 'list' || pattern.type === 'map') {
    if (literal(expr) || expr.type === 'tuple') return 'no';
    return 'maybe';
  }
  return 'maybe';
}

function normalizeLiteral(n: SyntaxNode): string {
  const atom = atomValue(n);
  return atom !== undefined && (n.type === 'atom' || n.type === 'quoted_atom') ? `:${atom}` : n.text;
}

function combine(ms: Match[]): Match {
  if (ms.includes('no')) return 'no';
  return ms.every((m) => m === 'yes') ? 'yes' : 'maybe';
}

/** Whether a clause's first parameter is a bare variable (a catch-all, not a specific request). */
export function isCatchAllPattern(pattern: SyntaxNode | undefined): boolean {
  if (!pattern) return true;
  if (pattern.type === 'identifier') return true;
  if (binaryOperator(pattern) === '=')
    return isCatchAllPattern(pattern.childForFieldName('left') ?? undefined) && isCatchAllPattern(pattern.childForFieldName('right') ?? undefined);
  return false;
}

/** `handle_call/3` clauses of `mod` that answer this request specifically (not a catch-all). */
export function handleCallsFor(mod: ModuleDef, request: SyntaxNode): Clause[] {
  return specificClauses(mod.functions.get('handle_call/3'), request);
}

/** `handle_cast/2` clauses of `mod` that take this request specifically. */
export function handleCastsFor(mod: ModuleDef, request: SyntaxNode): Clause[] {
  return specificClauses(mod.functions.get('handle_cast/2'), request);
}

function specificClauses(fn: FunctionDef | undefined, request: SyntaxNode): Clause[] {
  if (!fn) return [];
  const out: Clause[] = [];
  for (const clause of fn.clauses) {
    const pattern = clause.params[0];
    if (!pattern || isCatchAllPattern(pattern)) continue;
    const m = requestMatch(pattern, request);
    if (m === 'yes') out.push(clause);
    else if (m === 'maybe' && !out.length && request.type !== 'identifier') out.push(clause);
  }
  return out;
}

/** `{:lookup, _}` / `:get_table_name` → a short label for keys and messages. */
export function requestLabel(request: SyntaxNode | undefined): string {
  if (!request) return '?';
  const atom = atomValue(request);
  if (atom !== undefined) return `:${atom}`;
  if (request.type === 'tuple') {
    const items = codeChildren(request);
    const head = atomValue(items[0]);
    if (head !== undefined) return `{:${head}${items.length > 1 ? ', ' + items.slice(1).map(() => '_').join(', ') : ''}}`;
  }
  return request.text.length > 30 ? `${request.text.slice(0, 27)}...` : request.text;
}

// ---------------------------------------------------------------------------------------------
// What runs in a module's process

/**
 * Every function whose code runs in `mod`'s own process: its callbacks and the local helpers they
 * reach, plus functions of other modules they call in the same process (not through a call or a
 * spawn), several hops deep.
 */
export function processFunctions(mod: ModuleDef, project: ProjectIndex): Map<FunctionDef, FunctionDef[]> {
  const memo = project.memo('model:calls:process-functions', () => new Map<ModuleDef, Map<FunctionDef, FunctionDef[]>>());
  const known = memo.get(mod);
  if (known) return known;
  const reached = new Map<FunctionDef, FunctionDef[]>();
  const queue: FunctionDef[] = [];
  for (const fn of uniqueFunctions(mod))
    if (fn.isCallback) {
      reached.set(fn, [fn]);
      queue.push(fn);
    }
  while (queue.length) {
    const fn = queue.shift()!;
    const path = reached.get(fn)!;
    if (path.length > MAX_HOPS + 2) continue;
    for (const clause of fn.clauses) {
      if (!clause.body) continue;
      for (const site of clause.calls) {
        if (site.capture || SYNC_PRIMITIVES[siteName(site)]) continue;
        if (!runsWith(site.node, clause.body, fn.module).now) continue;
        const callee = calleeOf(site, fn.module, project);
        if (!callee || reached.has(callee)) continue;
        reached.set(callee, [...path, callee]);
        queue.push(callee);
      }
    }
  }
  memo.set(mod, reached);
  return reached;
}

/** Every call site in the scanned code that reaches `fn` (local or remote), with its function. */
export function callersOf(fn: FunctionDef, project: ProjectIndex): Array<{ fn: FunctionDef; site: CallSite }> {
  const index = project.memo('model:calls:callers', () => {
    const map = new Map<FunctionDef, Array<{ fn: FunctionDef; site: CallSite }>>();
    for (const file of project.files)
      for (const mod of file.modules)
        for (const f of uniqueFunctions(mod))
          for (const clause of f.clauses)
            for (const site of clause.calls) {
              const callee = calleeOf(site, mod, project);
              if (!callee) continue;
              if (!map.has(callee)) map.set(callee, []);
              map.get(callee)!.push({ fn: f, site });
            }
    return map;
  });
  return index.get(fn) ?? [];
}

/** The call sites in `fn`'s own module that call it right away (not through a spawn or a stored fn). */
export function localCallers(fn: FunctionDef, project: ProjectIndex): Array<{ fn: FunctionDef; clause: Clause; site: CallSite; scope: Scope }> {
  const out: Array<{ fn: FunctionDef; clause: Clause; site: CallSite; scope: Scope }> = [];
  for (const other of uniqueFunctions(fn.module))
    for (const clause of other.clauses) {
      if (!clause.body) continue;
      for (const site of clause.calls) {
        if (site.capture || calleeOf(site, fn.module, project) !== fn) continue;
        if (!runsWith(site.node, clause.body, fn.module).now) continue;
        out.push({ fn: other, clause, site, scope: scopeAt(site.node, clause.body, clauseScope(clause)) });
      }
    }
  return out;
}

/**
 * How long callers of a `handle_call/3` clause wait: the timeout of the call in this module's own API
 * that sends a request the clause answers (`def fetch(k), do: GenServer.call(__MODULE__, {:fetch, k}, 30_000)`).
 */
export function callerTimeout(clause: Clause, requestParam = 0): { via: FunctionDef; timeout?: SyntaxNode } | undefined {
  const pattern = clause.params[requestParam];
  if (!pattern || isCatchAllPattern(pattern)) return undefined;
  for (const fn of clause.fn.module.functions.values()) {
    if (fn.isCallback) continue;
    for (const c of fn.clauses)
      for (const site of c.calls) {
        const spec = SYNC_PRIMITIVES[siteName(site)];
        if (!spec || site.capture || site.arity < 2) continue;
        const request = site.args[spec.request];
        if (request && requestMatch(pattern, request) === 'yes') return { via: fn, timeout: spec.timeout !== undefined ? site.args[spec.timeout] : undefined };
      }
  }
  return undefined;
}

/** A clause that takes `[head | tail]` and calls its own function again with `tail`: explicit iteration. */
export function recursesOnTail(clause: Clause): boolean {
  const tails = clause.params
    .map((p) => /^\[\s*[\w{}%:, ]+\|\s*(\w+)\s*\]$/.exec(p.text.trim())?.[1])
    .filter((t): t is string => !!t && t !== '_');
  if (!tails.length) return false;
  const fn = clause.fn;
  return clause.calls.some(
    (s) => s.name === fn.name && (!s.module || s.module === fn.module.name) && !s.capture && s.args.some((a) => tails.includes(a.text.trim())),
  );
}
