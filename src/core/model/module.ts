/**
 * The per-file model: modules (nested too), what each module is, its functions and their clauses,
 * every call normalized (pipes, aliases, `__MODULE__`, captures), a local call graph, and for each
 * function which process runs it.
 */
import type { SyntaxNode, Tree } from '../parse.js';
import {
  atomValue,
  callArguments,
  callIdentifier,
  codeChildren,
  descendants,
  doBlock,
  keywordPairs,
  pipedInto,
} from '../query.js';

export type ModuleKind =
  | 'genserver'
  | 'gen_stage'
  | 'gen_statem'
  | 'supervisor'
  | 'dynamic_supervisor'
  | 'application'
  | 'agent'
  | 'task';

/** Which process runs a function: the module's own process, its callers, both, or nobody we can see. */
export type ProcessContext = 'server' | 'caller' | 'both' | 'unreachable';

export interface CallSite {
  node: SyntaxNode;
  /** Resolved receiver module (`:ets`, `GenServer`, `MyApp.Repo`); undefined for local calls. */
  module?: string;
  /** True when the receiver is a variable (`mod.fun()`), so the target is unknown. */
  dynamic: boolean;
  name: string;
  /** Arguments in call order; for `x |> f(y)` the pipe operand comes first. */
  args: SyntaxNode[];
  arity: number;
  /** `&fun/2` or `&Mod.fun/2`: a reference, not a call made here. */
  capture: boolean;
  /** Inside a function handed to another process (`Task.start(fn -> ... end)`, `spawn(&f/0)`). */
  spawned: boolean;
  /** The call that receives the nearest enclosing `fn` or capture (`Enum.map`, `:telemetry.attach`). */
  fnHost?: string;
}

export interface Clause {
  fn: FunctionDef;
  /** The whole `def ...` call. */
  node: SyntaxNode;
  /** `name(params)` call node, or the bare identifier for `def name do`. */
  head: SyntaxNode;
  params: SyntaxNode[];
  guard?: SyntaxNode;
  /** `do_block` node, or the value of `do:`; undefined for a bodiless head. */
  body?: SyntaxNode;
  oneLiner: boolean;
  calls: CallSite[];
}

export interface FunctionDef {
  module: ModuleDef;
  name: string;
  arity: number;
  /** Smallest arity when trailing params have defaults (`\\`). */
  minArity: number;
  kind: 'def' | 'defp' | 'defmacro' | 'defmacrop';
  clauses: Clause[];
  isCallback: boolean;
  context: ProcessContext;
}

export interface ModuleDef {
  file: FileModel;
  name: string;
  node: SyntaxNode;
  body: SyntaxNode;
  parent?: ModuleDef;
  kinds: Set<ModuleKind>;
  uses: Map<string, SyntaxNode>;
  aliases: Map<string, string>;
  /** First value of each module attribute (`@table :cache` → `table` → node of `:cache`). */
  attributes: Map<string, SyntaxNode>;
  /** Whether any callback is marked with `@impl` (then new callbacks must be too). */
  usesImpl: boolean;
  functions: Map<string, FunctionDef>;
}

export interface SourceFile {
  path: string;
  relPath: string;
  text: string;
}

export interface FileModel extends SourceFile {
  tree: Tree;
  modules: ModuleDef[];
  /**
   * Code a `defmacro __using__` injects into the modules that `use` it (`quote do ... end`), read as a
   * module of its own (`Mod.__using__`) when it defines process callbacks or a `mount/2` start hook.
   * Kept apart from `modules`: only rules that ask for it look at it, and nothing rewrites it.
   */
  injected?: ModuleDef[];
}

const KIND_BY_BEHAVIOUR: Record<string, ModuleKind> = {
  GenServer: 'genserver',
  ':gen_server': 'genserver',
  GenStage: 'gen_stage',
  ':gen_statem': 'gen_statem',
  GenStateMachine: 'gen_statem',
  Supervisor: 'supervisor',
  ':supervisor': 'supervisor',
  DynamicSupervisor: 'dynamic_supervisor',
  Application: 'application',
  ':application': 'application',
  Agent: 'agent',
  Task: 'task',
};

const GENSERVER_CALLBACKS = [
  'init/1',
  'handle_call/3',
  'handle_cast/2',
  'handle_info/2',
  'handle_continue/2',
  'terminate/2',
  'code_change/3',
  'format_status/1',
  'format_status/2',
];

/** Callbacks that run in the module's own process, per kind. */
const SERVER_CALLBACKS: Partial<Record<ModuleKind, string[]>> = {
  genserver: GENSERVER_CALLBACKS,
  gen_stage: [
    ...GENSERVER_CALLBACKS,
    'handle_demand/2',
    'handle_events/3',
    'handle_subscribe/4',
    'handle_cancel/3',
  ],
  gen_statem: ['init/1', 'handle_event/4', 'terminate/3', 'code_change/4', 'state_enter/3'],
  supervisor: ['init/1'],
  dynamic_supervisor: ['init/1'],
  task: ['run/1'],
};

export const PROCESS_KINDS: ModuleKind[] = ['genserver', 'gen_stage', 'gen_statem', 'supervisor', 'dynamic_supervisor'];

/** Functions whose function argument runs in another process. */
const SPAWNING_CALLS = new Set([
  'Task.start',
  'Task.start_link',
  'Task.async',
  'Task.async_stream',
  'Task.Supervisor.start_child',
  'Task.Supervisor.async',
  'Task.Supervisor.async_nolink',
  'Task.Supervisor.async_stream',
  'Task.Supervisor.async_stream_nolink',
  'spawn',
  'spawn_link',
  'spawn_monitor',
  'Process.spawn',
  'Kernel.spawn',
  'Kernel.spawn_link',
  ':proc_lib.spawn',
  ':proc_lib.spawn_link',
  'Agent.start',
  'Agent.start_link',
  // A telemetry handler runs later, in whichever process emits the event (see model/telemetry.ts).
  ':telemetry.attach',
  ':telemetry.attach_many',
]);

/** Identifiers that are syntax or compile-time forms, never calls to functions of the module. */
const SPECIAL_FORMS = new Set([
  'def', 'defp', 'defmacro', 'defmacrop', 'defmodule', 'defstruct', 'defdelegate', 'defguard',
  'defguardp', 'defimpl', 'defprotocol', 'defexception', 'if', 'unless', 'case', 'cond', 'with',
  'for', 'receive', 'try', 'fn', 'quote', 'unquote', 'unquote_splicing', 'import', 'require',
  'alias', 'use', '__MODULE__', '__ENV__', '__CALLER__', '__DIR__', '__STACKTRACE__', 'super',
]);

export function buildFileModel(source: SourceFile, tree: Tree): FileModel {
  const file: FileModel = { ...source, tree, modules: [], injected: [] };
  collectModules(file, tree.rootNode, undefined);
  for (const mod of file.modules) computeContexts(mod);
  for (const mod of file.modules) collectInjected(file, mod);
  return file;
}

function collectModules(file: FileModel, container: SyntaxNode, parent: ModuleDef | undefined): void {
  for (const node of codeChildren(container)) {
    if (callIdentifier(node) !== 'defmodule') continue;
    const nameNode = callArguments(node)[0];
    const body = doBlock(node);
    if (!nameNode || !body) continue;
    const raw = nameNode.text;
    const name = raw.startsWith('__MODULE__') && parent
      ? parent.name + raw.slice('__MODULE__'.length)
      : parent && nameNode.type === 'alias'
        ? `${parent.name}.${raw}`
        : raw;
    if (parent && nameNode.type === 'alias') parent.aliases.set(raw.split('.')[0], `${parent.name}.${raw.split('.')[0]}`);
    const mod: ModuleDef = {
      file,
      name,
      node,
      body,
      parent,
      kinds: new Set(),
      uses: new Map(),
      aliases: new Map(parent?.aliases ?? []),
      attributes: new Map(),
      usesImpl: false,
      functions: new Map(),
    };
    file.modules.push(mod);
    readModuleBody(file, mod);
  }
}

/** `defmacro __using__(opts) do quote do use GenServer ... end end`: the quoted module body. */
function collectInjected(file: FileModel, mod: ModuleDef): void {
  const using = mod.functions.get('__using__/1');
  if (!using || using.kind !== 'defmacro') return;
  for (const clause of using.clauses) {
    if (!clause.body) continue;
    for (const q of [clause.body, ...clause.body.descendantsOfType('call')]) {
      if (q.type !== 'call' || callIdentifier(q) !== 'quote') continue;
      const body = doBlock(q);
      if (!body) continue;
      const injected: ModuleDef = {
        file,
        name: `${mod.name}.__using__`,
        node: q,
        body,
        parent: mod,
        kinds: new Set(),
        uses: new Map(),
        aliases: new Map(mod.aliases),
        attributes: new Map(),
        usesImpl: false,
        functions: new Map(),
      };
      const before = file.modules.length;
      readModuleBody(file, injected);
      // Modules defined inside the quote are not this module's; leave them out.
      file.modules.splice(before);
      if (!isProcessModule(injected) && !injected.functions.has('mount/2')) continue;
      computeContexts(injected);
      file.injected!.push(injected);
    }
  }
}

function readModuleBody(file: FileModel, mod: ModuleDef): void {
  for (const stmt of codeChildren(mod.body)) {
    const id = callIdentifier(stmt);
    if (id === 'defmodule') continue; // handled after this module's own statements
    if (id === 'use') {
      const target = callArguments(stmt)[0];
      if (target) {
        const used = resolveModuleName(target, mod);
        if (used) {
          mod.uses.set(used, stmt);
          const kind = KIND_BY_BEHAVIOUR[used];
          if (kind) mod.kinds.add(kind);
        }
      }
    } else if (id === 'alias') {
      readAlias(stmt, mod);
    } else if (id && ['def', 'defp', 'defmacro', 'defmacrop'].includes(id)) {
      addClause(mod, stmt, id as FunctionDef['kind']);
    } else if (stmt.type === 'unary_operator' && stmt.child(0)?.type === '@') {
      readAttribute(stmt, mod);
    }
  }
  // Calls are read after the whole body so that aliases declared below a function still resolve.
  for (const fn of uniqueFunctions(mod))
    for (const clause of fn.clauses) if (clause.body) clause.calls = callsIn(clause.body, mod);
  collectModules(file, mod.body, mod);
}

function readAlias(stmt: SyntaxNode, mod: ModuleDef): void {
  const [target, opts] = callArguments(stmt);
  if (!target) return;
  if (target.type === 'alias') {
    const full = resolveAliasText(target.text, mod);
    const as = keywordPairs(opts)?.find((p) => p.key === 'as')?.value;
    const short = as?.type === 'alias' ? as.text : full.split('.').pop()!;
    mod.aliases.set(short, full);
  } else if (target.type === 'dot' && target.childForFieldName('right')?.type === 'tuple') {
    // alias Foo.{Bar, Baz.Qux}
    const base = resolveAliasText(target.childForFieldName('left')!.text, mod);
    for (const item of codeChildren(target.childForFieldName('right')!)) {
      if (item.type !== 'alias') continue;
      mod.aliases.set(item.text.split('.').pop()!, `${base}.${item.text}`);
    }
  }
}

function readAttribute(stmt: SyntaxNode, mod: ModuleDef): void {
  const operand = stmt.childForFieldName('operand');
  if (!operand || operand.type !== 'call') return;
  const name = callIdentifier(operand);
  const value = callArguments(operand)[0];
  if (!name || !value) return;
  if (name === 'behaviour') {
    const behaviour = resolveModuleName(value, mod);
    const kind = behaviour ? KIND_BY_BEHAVIOUR[behaviour] : undefined;
    if (kind) mod.kinds.add(kind);
  } else if (name === 'impl') {
    mod.usesImpl = true;
  }
  if (!mod.attributes.has(name)) mod.attributes.set(name, value);
}

function addClause(mod: ModuleDef, node: SyntaxNode, kind: FunctionDef['kind']): void {
  const args = callArguments(node);
  let headExpr = args[0];
  if (!headExpr) return;
  let guard: SyntaxNode | undefined;
  if (headExpr.type === 'binary_operator' && headExpr.childForFieldName('operator')?.type === 'when') {
    guard = headExpr.childForFieldName('right') ?? undefined;
    headExpr = headExpr.childForFieldName('left')!;
  }
  let name: string | undefined;
  let params: SyntaxNode[] = [];
  if (headExpr.type === 'call') {
    name = callIdentifier(headExpr);
    params = callArguments(headExpr);
  } else if (headExpr.type === 'identifier') {
    name = headExpr.text;
  }
  if (!name) return; // def unquote(name)(...) and friends: not statically known
  const defaults = params.filter((p) => p.type === 'binary_operator' && p.childForFieldName('operator')?.type === '\\\\').length;
  const doKeyword = keywordPairs(args[1])?.find((p) => p.key === 'do');
  const block = doBlock(node);
  const arity = params.length;
  const key = `${name}/${arity}`;
  let fn = mod.functions.get(key);
  if (!fn) {
    fn = { module: mod, name, arity, minArity: arity - defaults, kind, clauses: [], isCallback: false, context: 'unreachable' };
    for (let a = arity - defaults; a <= arity; a++) if (!mod.functions.has(`${name}/${a}`)) mod.functions.set(`${name}/${a}`, fn);
    mod.functions.set(key, fn);
  }
  const clause: Clause = {
    fn,
    node,
    head: headExpr,
    params,
    guard,
    body: block ?? doKeyword?.value,
    oneLiner: !block && !!doKeyword,
    calls: [],
  };
  fn.clauses.push(clause);
}

/** `Foo` / `Foo.Bar` / `:ets` / `__MODULE__` / `__MODULE__.Sub` → a resolved module name. */
export function resolveModuleName(node: SyntaxNode, mod: ModuleDef): string | undefined {
  switch (node.type) {
    case 'alias':
      return resolveAliasText(node.text, mod);
    case 'atom':
      return node.text;
    case 'identifier':
      return node.text === '__MODULE__' ? mod.name : undefined;
    case 'dot': {
      const left = node.childForFieldName('left');
      const right = node.childForFieldName('right');
      if (left?.type === 'identifier' && left.text === '__MODULE__' && right?.type === 'alias') return `${mod.name}.${right.text}`;
      return undefined;
    }
    default:
      return undefined;
  }
}

export function resolveAliasText(text: string, mod: ModuleDef): string {
  const [first, ...rest] = text.split('.');
  const full = mod.aliases.get(first);
  return full ? [full, ...rest].join('.') : text;
}

interface FnContext {
  /** End offset of the function value that opened this context. */
  end: number;
  host?: string;
  spawned: boolean;
}

/**
 * Every call and capture under `root`, normalized. Nodes come back from tree-sitter in source order;
 * a stack of the enclosing function values (`fn`, `&...`) says which call receives the nearest one
 * and whether it runs in another process, so no call site has to look upwards for it.
 */
export function callsIn(root: SyntaxNode, mod: ModuleDef): CallSite[] {
  const sites: CallSite[] = [];
  const stack: FnContext[] = [{ end: Infinity, spawned: false }];
  for (const node of root.descendantsOfType(['call', 'anonymous_function', 'unary_operator'])) {
    while (stack[stack.length - 1].end <= node.startIndex) stack.pop();
    const type = node.type;
    const isFnValue = type === 'anonymous_function' || (type === 'unary_operator' && node.child(0)?.type === '&');
    if (type === 'unary_operator' && !isFnValue) continue;
    if (isFnValue) {
      const outer = stack[stack.length - 1];
      const hostNode = hostCall(node);
      const hostName = hostNode ? qualifiedName(hostNode, mod) : undefined;
      stack.push({ end: node.endIndex, host: hostName ?? outer.host, spawned: outer.spawned || (!!hostName && SPAWNING_CALLS.has(hostName)) });
    }
    const site = type === 'call' ? normalizeCall(node, mod) : type === 'unary_operator' ? captureSite(node, mod) : undefined;
    if (site) {
      const ctx = stack[stack.length - 1];
      site.fnHost = ctx.host;
      site.spawned = ctx.spawned;
      sites.push(site);
    }
  }
  return sites;
}

export function normalizeCall(node: SyntaxNode, mod: ModuleDef): CallSite | undefined {
  if (isCaptureTarget(node)) return undefined; // reported by captureSite
  const target = node.childForFieldName('target');
  if (!target) return undefined;
  const hasArgs = node.namedChildren.some((c) => c.type === 'arguments');
  const piped = pipedInto(node);
  const args = [...(piped ? [piped] : []), ...callArguments(node)];
  let module: string | undefined;
  let dynamic = false;
  let name: string;
  if (target.type === 'identifier') {
    name = target.text;
    if (SPECIAL_FORMS.has(name)) return undefined;
  } else if (target.type === 'dot') {
    const left = target.childForFieldName('left');
    const right = target.childForFieldName('right');
    if (!left || right?.type !== 'identifier') return undefined; // fun.(x)
    module = resolveModuleName(left, mod);
    if (!module) {
      if (!hasArgs) return undefined; // map.field access
      dynamic = true;
    }
    name = right.text;
  } else return undefined;
  return { node, module, dynamic, name, args, arity: args.length, capture: false, spawned: false };
}

function isCaptureTarget(node: SyntaxNode): boolean {
  const slash = node.parent;
  return slash?.type === 'binary_operator' && slash.childForFieldName('operator')?.type === '/' &&
    slash.parent?.type === 'unary_operator' && slash.parent.child(0)?.type === '&' &&
    slash.childForFieldName('left')?.id === node.id;
}

function captureSite(node: SyntaxNode, mod: ModuleDef): CallSite | undefined {
  const operand = node.childForFieldName('operand');
  if (operand?.type !== 'binary_operator' || operand.childForFieldName('operator')?.type !== '/') return undefined;
  const fun = operand.childForFieldName('left');
  const arityNode = operand.childForFieldName('right');
  if (!fun || arityNode?.type !== 'integer') return undefined;
  const arity = Number(arityNode.text);
  let module: string | undefined;
  let name: string;
  if (fun.type === 'identifier') name = fun.text;
  else if (fun.type === 'call') {
    const target = fun.childForFieldName('target');
    const left = target?.childForFieldName('left');
    const right = target?.childForFieldName('right');
    if (target?.type !== 'dot' || !left || right?.type !== 'identifier') return undefined;
    module = resolveModuleName(left, mod);
    if (!module) return undefined;
    name = right.text;
  } else return undefined;
  return { node, module, dynamic: false, name, args: [], arity, capture: true, spawned: false };
}

/**
 * The call a function value is passed to: `Enum.map(xs, fn ... end)`, `xs |> Enum.map(&f/1)`, or
 * `work = fn ... end` followed by `Task.start(work)` in the same body.
 */
function hostCall(fnNode: SyntaxNode): SyntaxNode | undefined {
  const parent = fnNode.parent;
  if (parent?.type === 'arguments' && parent.parent?.type === 'call') return parent.parent;
  if (parent?.type !== 'binary_operator' || parent.childForFieldName('operator')?.type !== '=') return undefined;
  const variable = parent.childForFieldName('left');
  if (variable?.type !== 'identifier' || parent.childForFieldName('right')?.id !== fnNode.id) return undefined;
  for (let scope = parent.parent; scope; scope = scope.parent) {
    if (scope.type !== 'do_block' && scope.type !== 'body' && scope.type !== 'source') continue;
    for (const node of descendants(scope, ['identifier'])) {
      if (node.startIndex < parent.endIndex || node.type !== 'identifier' || node.text !== variable.text) continue;
      const args = node.parent;
      if (args?.type === 'arguments' && args.parent?.type === 'call') return args.parent;
    }
    return undefined;
  }
  return undefined;
}

function qualifiedName(call: SyntaxNode, mod: ModuleDef): string | undefined {
  const target = call.childForFieldName('target');
  if (target?.type === 'identifier') return target.text;
  if (target?.type !== 'dot') return undefined;
  const left = target.childForFieldName('left');
  const right = target.childForFieldName('right');
  const module = left ? resolveModuleName(left, mod) : undefined;
  return module && right ? `${module}.${right.text}` : undefined;
}

export function siteName(site: CallSite): string {
  return site.module ? `${site.module}.${site.name}` : site.name;
}

/** The module's function a call site reaches, when it is a call into the same module. */
export function localTarget(site: CallSite, mod: ModuleDef): FunctionDef | undefined {
  if (site.dynamic) return undefined;
  if (site.module !== undefined && site.module !== mod.name) return undefined;
  return mod.functions.get(`${site.name}/${site.arity}`);
}

export function serverCallbacks(mod: ModuleDef): Set<string> {
  const keys = new Set<string>();
  for (const kind of mod.kinds) for (const key of SERVER_CALLBACKS[kind] ?? []) keys.add(key);
  // gen_statem with `callback_mode :state_functions`: each state is a `def state(event_type, content, data)`.
  if (mod.kinds.has('gen_statem'))
    for (const fn of mod.functions.values())
      if (fn.arity === 3 && fn.kind === 'def' && fn.clauses.some((c) => STATEM_EVENT.test(c.params[0]?.text.trim() ?? ''))) keys.add(`${fn.name}/3`);
  return keys;
}

/** The event types a gen_statem state function takes first. */
const STATEM_EVENT = /^(\{\s*:call\s*,|:cast$|:info$|:internal$|:enter$|:state_timeout$|:timeout$|\{\s*:timeout\s*,)/;

export function isProcessModule(mod: ModuleDef): boolean {
  return PROCESS_KINDS.some((k) => mod.kinds.has(k));
}

export function uniqueFunctions(mod: ModuleDef): FunctionDef[] {
  return [...new Set(mod.functions.values())];
}

/** Callees in the same process: local calls and captures not handed to another process. */
export function sameProcessCallees(fn: FunctionDef): FunctionDef[] {
  const out = new Set<FunctionDef>();
  for (const clause of fn.clauses)
    for (const site of clause.calls) {
      if (site.spawned) continue;
      const target = localTarget(site, fn.module);
      if (target && target !== fn) out.add(target);
    }
  return [...out];
}

function computeContexts(mod: ModuleDef): void {
  const callbacks = serverCallbacks(mod);
  const fns = uniqueFunctions(mod);
  for (const fn of fns) fn.isCallback = callbacks.has(`${fn.name}/${fn.arity}`) && fn.kind === 'def';
  const reach = (roots: FunctionDef[]): Set<FunctionDef> => {
    const seen = new Set<FunctionDef>(roots);
    const queue = [...roots];
    while (queue.length) for (const next of sameProcessCallees(queue.pop()!)) if (!seen.has(next)) (seen.add(next), queue.push(next));
    return seen;
  };
  const server = isProcessModule(mod) ? reach(fns.filter((f) => f.isCallback)) : new Set<FunctionDef>();
  const callers = reach(fns.filter((f) => !f.isCallback && (f.kind === 'def' || f.kind === 'defmacro')));
  for (const fn of fns) {
    const s = server.has(fn);
    const c = callers.has(fn);
    fn.context = s && c ? 'both' : s ? 'server' : c ? 'caller' : 'unreachable';
  }
}

/** Every path of local calls from `fn` to a function satisfying `test`, shortest first, as chains. */
export function findCallChain(
  fn: FunctionDef,
  test: (f: FunctionDef) => boolean,
  maxDepth = 8,
): FunctionDef[] | undefined {
  const queue: FunctionDef[][] = [[fn]];
  const seen = new Set([fn]);
  while (queue.length) {
    const path = queue.shift()!;
    const last = path[path.length - 1];
    if (path.length > 1 && test(last)) return path;
    if (path.length > maxDepth) continue;
    for (const next of sameProcessCallees(last)) {
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push([...path, next]);
    }
  }
  return undefined;
}

export function literalAtom(node: SyntaxNode | undefined, mod: ModuleDef): string | undefined {
  if (!node) return undefined;
  if (node.type === 'unary_operator' && node.child(0)?.type === '@') {
    const attr = node.childForFieldName('operand');
    return attr?.type === 'identifier' ? literalAtom(mod.attributes.get(attr.text), mod) : undefined;
  }
  if (node.type === 'identifier' && node.text === '__MODULE__') return mod.name;
  if (node.type === 'alias') return resolveAliasText(node.text, mod);
  if (node.type === 'dot') return resolveModuleName(node, mod); // __MODULE__.Sub
  return atomValue(node);
}
