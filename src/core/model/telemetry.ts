/**
 * Telemetry: where handlers are attached (`:telemetry.attach/4`, `attach_many/4`), which code is the
 * handler (an `fn`, `&Mod.fun/4`, `&__MODULE__.fun/4`, `&fun/4`, or a module attribute or variable
 * holding one), and where events are emitted. A handler runs in the process that *emits* the event,
 * not in the one that attached it: a `GenServer.call` in it blocks the emitter.
 */
import { append } from '../collections.js';
import type { SyntaxNode } from '../parse.js';
import { binaryOperator, codeChildren } from '../query.js';
import {
  bindParam,
  calleeOf,
  clauseScope,
  callersOf,
  fnScope,
  processFunctions,
  runsWith,
  scopeAt,
  serverOf,
  syncCallsIn,
  syncCallsOf,
  type SyncCall,
  type Target,
} from './calls.js';
import { literalAtom, siteName, uniqueFunctions, type CallSite, type Clause, type FileModel, type FunctionDef, type ModuleDef } from './module.js';
import type { ProjectIndex } from './project.js';

export type HandlerRef =
  | { kind: 'fn'; node: SyntaxNode }
  | { kind: 'function'; fn: FunctionDef; capture: SyntaxNode }
  | { kind: 'unknown'; node?: SyntaxNode };

export interface TelemetryAttach {
  module: ModuleDef;
  fn: FunctionDef;
  clause: Clause;
  site: CallSite;
  many: boolean;
  id?: SyntaxNode;
  events?: SyntaxNode;
  /** The handler argument as written (may be a variable or attribute that holds the handler). */
  handlerArg?: SyntaxNode;
  config?: SyntaxNode;
  /** Event names as `a.b.c`; undefined when they are not literal. */
  eventNames?: string[];
  handler: HandlerRef;
}

export interface TelemetryEmit {
  module: ModuleDef;
  fn: FunctionDef;
  clause: Clause;
  site: CallSite;
  /** Event names emitted (a span emits `:start`, `:stop`, `:exception`); undefined when not literal. */
  events?: string[];
}

const ATTACH = new Set([':telemetry.attach', ':telemetry.attach_many']);
const EMIT = new Set([':telemetry.execute', ':telemetry.span']);

/** Every attach in a module. */
export function attachesIn(mod: ModuleDef): TelemetryAttach[] {
  const out: TelemetryAttach[] = [];
  for (const fn of uniqueFunctions(mod))
    for (const clause of fn.clauses)
      for (const site of clause.calls) {
        const name = siteName(site);
        if (site.capture || !ATTACH.has(name) || site.arity < 4) continue;
        const [id, events, handlerArg, config] = site.args;
        const many = name.endsWith('attach_many');
        out.push({
          module: mod,
          fn,
          clause,
          site,
          many,
          id,
          events,
          handlerArg,
          config,
          eventNames: many ? eventList(events, mod) : eventName(events, mod).map((e) => [e]).flat(),
          handler: handlerOf(handlerArg, clause, mod),
        });
        const last = out[out.length - 1];
        if (!many && last.eventNames?.length === 0) last.eventNames = undefined;
      }
  return out;
}

/** `[:a, :b]` (or `@event`) → `['a.b']`; `[]` when not a literal event name. */
function eventName(node: SyntaxNode | undefined, mod: ModuleDef): string[] {
  const value = deref(node, mod);
  if (value?.type !== 'list') return [];
  const atoms = codeChildren(value).map((n) => literalAtom(n, mod));
  return atoms.every((a): a is string => a !== undefined) && atoms.length ? [atoms.join('.')] : [];
}

function eventList(node: SyntaxNode | undefined, mod: ModuleDef): string[] | undefined {
  const value = deref(node, mod);
  if (value?.type !== 'list') return undefined;
  const names: string[] = [];
  for (const item of codeChildren(value)) {
    const one = eventName(item, mod);
    if (!one.length) return undefined;
    names.push(...one);
  }
  return names;
}

/** A module attribute's value (`@events` → its literal), else the node itself. */
function deref(node: SyntaxNode | undefined, mod: ModuleDef): SyntaxNode | undefined {
  if (node?.type === 'unary_operator' && node.child(0)?.type === '@') {
    const attr = node.childForFieldName('operand');
    return attr?.type === 'identifier' ? mod.attributes.get(attr.text) : undefined;
  }
  return node;
}

function handlerOf(arg: SyntaxNode | undefined, clause: Clause, mod: ModuleDef, depth = 0): HandlerRef {
  if (!arg || depth > 3) return { kind: 'unknown', node: arg };
  if (arg.type === 'anonymous_function') return { kind: 'fn', node: arg };
  if (arg.type === 'unary_operator' && arg.child(0)?.type === '@') {
    const value = deref(arg, mod);
    return value ? handlerOf(value, clause, mod, depth + 1) : { kind: 'unknown', node: arg };
  }
  if (arg.type === 'unary_operator' && arg.child(0)?.type === '&') {
    const fn = capturedFunction(arg, mod);
    return fn ? { kind: 'function', fn, capture: arg } : { kind: 'unknown', node: arg };
  }
  if (arg.type === 'identifier' && clause.body) {
    // handler = fn ... end / &handle/4, earlier in the clause
    let bound: SyntaxNode | undefined;
    for (const node of clause.body.descendantsOfType('binary_operator')) {
      if (node.endIndex > arg.startIndex) break;
      const left = node.childForFieldName('left');
      if (binaryOperator(node) === '=' && left?.type === 'identifier' && left.text === arg.text) bound = node.childForFieldName('right') ?? undefined;
    }
    if (bound) return handlerOf(bound, clause, mod, depth + 1);
  }
  return { kind: 'unknown', node: arg };
}

/** `&handle/4`, `&__MODULE__.handle/4`, `&Mod.handle/4` → the function, when in this module. */
function capturedFunction(capture: SyntaxNode, mod: ModuleDef): FunctionDef | undefined {
  const operand = capture.childForFieldName('operand');
  if (binaryOperator(operand ?? capture) !== '/') return undefined;
  const fun = operand!.childForFieldName('left');
  const arity = operand!.childForFieldName('right')?.text;
  if (!fun || !arity) return undefined;
  if (fun.type === 'identifier') return mod.functions.get(`${fun.text}/${arity}`);
  return undefined;
}

/** Resolve a handler capture of another module once the project is known. */
function resolveHandler(attach: TelemetryAttach, project: ProjectIndex): HandlerRef {
  if (attach.handler.kind !== 'unknown' || !attach.handler.node) return attach.handler;
  const node = attach.handler.node;
  const capture = node.type === 'unary_operator' && node.child(0)?.type === '&' ? node : deref(node, attach.module);
  if (capture?.type !== 'unary_operator' || capture.child(0)?.type !== '&') return attach.handler;
  const site = attach.clause.calls.find((s) => s.capture && s.node.id === capture.id) ?? siteOfCapture(capture, attach.module);
  const fn = site ? calleeOf(site, attach.module, project) : undefined;
  return fn ? { kind: 'function', fn, capture } : attach.handler;
}

function siteOfCapture(capture: SyntaxNode, mod: ModuleDef): CallSite | undefined {
  for (const fn of uniqueFunctions(mod)) for (const c of fn.clauses) for (const s of c.calls) if (s.node.id === capture.id) return s;
  // A capture in a module attribute is outside any function: normalise it on the spot.
  const operand = capture.childForFieldName('operand');
  const fun = operand?.childForFieldName('left');
  const arity = Number(operand?.childForFieldName('right')?.text);
  const target = fun?.type === 'call' ? fun.childForFieldName('target') : undefined;
  const left = target?.childForFieldName('left');
  const right = target?.childForFieldName('right');
  if (!left || right?.type !== 'identifier' || !Number.isInteger(arity)) return undefined;
  const module = left.type === 'identifier' && left.text === '__MODULE__' ? mod.name : literalAtom(left, mod);
  if (!module) return undefined;
  return { node: capture, module, dynamic: false, name: right.text, args: [], arity, capture: true, spawned: true };
}

export interface TelemetryIndex {
  attaches: TelemetryAttach[];
  /** Emits by event name; emits with a non-literal name are in `dynamic`. */
  emits: Map<string, TelemetryEmit[]>;
  dynamic: TelemetryEmit[];
  handlers: Set<FunctionDef>;
}

export function telemetryIndex(project: ProjectIndex): TelemetryIndex {
  return project.memo('model:telemetry', () => {
    const attaches: TelemetryAttach[] = [];
    const emits = new Map<string, TelemetryEmit[]>();
    const dynamic: TelemetryEmit[] = [];
    // Per file (recomputed only for changed files); handlers resolve against the whole project.
    for (const facts of project.perFile('model:telemetry:file', fileTelemetry)) {
      for (const a of facts.attaches) attaches.push({ ...a, handler: resolveHandler(a, project) });
      for (const emit of facts.emits) {
        if (!emit.events) dynamic.push(emit);
        else for (const e of emit.events) append(emits, e, emit);
      }
    }
    const handlers = new Set<FunctionDef>();
    for (const a of attaches) if (a.handler.kind === 'function') handlers.add(a.handler.fn);
    return { attaches, emits, dynamic, handlers };
  });
}

function fileTelemetry(file: FileModel): { attaches: ReturnType<typeof attachesIn>; emits: TelemetryEmit[] } {
  const attaches: ReturnType<typeof attachesIn> = [];
  const emits: TelemetryEmit[] = [];
  if (!file.text.includes(':telemetry')) return { attaches, emits };
  for (const mod of file.modules) {
    attaches.push(...attachesIn(mod));
    for (const fn of uniqueFunctions(mod))
      for (const clause of fn.clauses)
        for (const site of clause.calls) {
          const name = siteName(site);
          if (site.capture || !EMIT.has(name)) continue;
          const base = eventName(site.args[0], mod)[0];
          const events = base === undefined ? undefined : name.endsWith('span') ? ['start', 'stop', 'exception'].map((s) => `${base}.${s}`) : [base];
          emits.push({ module: mod, fn, clause, site, events });
        }
  }
  return { attaches, emits };
}

/** Whether a function is attached as a telemetry handler somewhere (it runs in emitting processes). */
export function isTelemetryHandler(fn: FunctionDef, project: ProjectIndex): boolean {
  return telemetryIndex(project).handlers.has(fn);
}

/** Which process a call made by a handler reaches. */
export type ProcessRef =
  /** `self()` in the handler: the emitting process itself. */
  | { kind: 'emitter' }
  | { kind: 'module'; module: ModuleDef; how: string }
  | { kind: 'unknown'; text: string };

export interface HandlerCall {
  call: SyncCall;
  process: ProcessRef;
}

/** The synchronous calls a handler makes when it runs, with the process each one addresses. */
export function handlerCalls(attach: TelemetryAttach, project: ProjectIndex): HandlerCall[] {
  // Asked once per file that might hold the call; the answer only depends on the index.
  const cache = project.memo('telemetry:handler-calls', () => new Map<TelemetryAttach, HandlerCall[]>());
  let calls = cache.get(attach);
  if (!calls) cache.set(attach, (calls = computeHandlerCalls(attach, project)));
  return calls;
}

function computeHandlerCalls(attach: TelemetryAttach, project: ProjectIndex): HandlerCall[] {
  const outer = clauseScope(attach.clause, 'outer');
  let calls: SyncCall[];
  let bind: (t: Target, call: SyncCall) => Target;
  if (attach.handler.kind === 'fn') {
    const fnNode = attach.handler.node;
    const scope = fnScope(fnNode, outer, 'base');
    const body = scope.body;
    if (!body) return [];
    calls = syncCallsIn(body, attach.clause.calls, scope, project, attach.fn, 0);
    // The fn's 4th parameter is the attach config.
    bind = (t) => bindConfig(t, attach, outer);
  } else if (attach.handler.kind === 'function') {
    calls = syncCallsOf(attach.handler.fn, project);
    bind = (t) => bindConfig(t, attach, outer);
  } else return [];
  return calls.map((call) => {
    let target = bind(call.target, call);
    if (target.kind === 'param' && target.outer) target = viaCallers(attach, target, project);
    return { call, process: processOf(target, call, attach, project) };
  });
}

function bindConfig(t: Target, attach: TelemetryAttach, outer: ReturnType<typeof clauseScope>): Target {
  if (t.kind !== 'param' || t.outer) return t;
  if (t.index !== 3 || !attach.config) return { kind: 'unknown', text: ['the event name', 'the measurements', 'the event metadata', 'the handler config'][t.index] ?? 'a handler argument' };
  const site = { ...attach.site, args: [attach.site.args[0], attach.site.args[1], attach.site.args[2], attach.config], capture: false };
  const bound = bindParam({ kind: 'param', index: 3, key: t.key }, site, undefined, outer);
  return bound.kind === 'param' ? { ...bound, outer: true } : bound.kind === 'self' ? { kind: 'self', outer: true } : bound;
}

/** A parameter of the attaching function: what its callers in the scanned code pass (when they all agree). */
function viaCallers(attach: TelemetryAttach, target: Target & { kind: 'param' }, project: ProjectIndex): Target {
  const fn = attach.fn;
  const seen: Target[] = [];
  const callerFns: FunctionDef[] = [];
  const unresolved: Target = { kind: 'unknown', text: `argument ${target.index + 1} of ${fn.name}/${fn.arity}` };
  for (const caller of callersOf(fn, project)) {
    const clause = caller.fn.clauses.find((c) => c.node.startIndex <= caller.site.node.startIndex && caller.site.node.endIndex <= c.node.endIndex);
    if (!clause?.body || caller.site.capture) continue;
    if (!runsWith(caller.site.node, clause.body, caller.fn.module).now) continue;
    const scope = scopeAt(caller.site.node, clause.body, clauseScope(clause));
    seen.push(bindParam({ kind: 'param', index: target.index, key: target.key }, caller.site, fn, scope));
    callerFns.push(caller.fn);
  }
  if (!seen.length) return unresolved;
  const first = JSON.stringify(seen[0]);
  if (!seen.every((t) => JSON.stringify(t) === first)) return unresolved;
  const t = seen[0];
  // `self()` in callers that run in the module's own process is that process.
  if (t.kind === 'self')
    return callerFns.every((f) => f.context === 'server' && f.module === attach.module) ? { kind: 'self', outer: true } : { kind: 'unknown', text: 'self() of a caller' };
  return t.kind === 'param' ? unresolved : t;
}

function processOf(target: Target, call: SyncCall, attach: TelemetryAttach, project: ProjectIndex): ProcessRef {
  if (target.kind === 'self' && !target.outer) return { kind: 'emitter' };
  if (target.kind === 'self') {
    // The process that ran the attach: the module's own process when the attach runs in its callbacks.
    if (attach.fn.context === 'server' || attach.fn.isCallback) return { kind: 'module', module: attach.module, how: `its own pid, taken with self() when the handler was attached` };
    return { kind: 'unknown', text: 'the process that attached the handler' };
  }
  const server = serverOf(call, target, attach.module, project);
  if (server) return { kind: 'module', module: server.module, how: server.how === 'message' ? `its handle_call answers this request` : `by name` };
  return { kind: 'unknown', text: target.kind === 'unknown' ? target.text : target.kind === 'param' ? `argument ${target.index + 1}` : '?' };
}

export interface EmitterEvidence {
  /** Emits of the handler's events whose code runs in the target's process. */
  inTarget: Array<{ emit: TelemetryEmit; path: FunctionDef[] }>;
  /** Every emit of the handler's events found in the scanned code. */
  known: TelemetryEmit[];
  /** Events attached to that no scanned code emits (or names that are not literal). */
  unseen: string[];
  /** Emits with a non-literal event name running in the target's process (they might be these events). */
  dynamicInTarget: TelemetryEmit[];
}

/** Where the handler's events are emitted, and which of those emits run in `target`'s process. */
export function emitterEvidence(attach: TelemetryAttach, target: ModuleDef, project: ProjectIndex, eventNames = attach.eventNames): EmitterEvidence {
  const index = telemetryIndex(project);
  const inProcess = processFunctions(target, project);
  const known: TelemetryEmit[] = [];
  const unseen: string[] = [];
  for (const e of eventNames ?? []) {
    const emits = index.emits.get(e);
    if (emits?.length) known.push(...emits);
    else unseen.push(e);
  }
  if (!attach.eventNames) unseen.push(attach.events?.text ?? '?');
  const inTarget = known.filter((e) => inProcess.has(e.fn)).map((emit) => ({ emit, path: inProcess.get(emit.fn)! }));
  const dynamicInTarget = index.dynamic.filter((e) => inProcess.has(e.fn));
  return { inTarget, known, unseen, dynamicInTarget };
}

/**
 * The attached events a handler clause can receive: its first parameter is matched against each
 * event name (`def handle_event([:app, :repo, :query], ...)` only sees that one).
 */
export function eventsForClause(attach: TelemetryAttach, clause: Clause): string[] | undefined {
  if (!attach.eventNames || attach.handler.kind !== 'function' || clause.fn !== attach.handler.fn) return attach.eventNames;
  const pattern = clause.params[0];
  if (!pattern) return attach.eventNames;
  return attach.eventNames.filter((e) => eventMayMatch(pattern, e.split('.'), clause.fn.module));
}

function eventMayMatch(pattern: SyntaxNode, event: string[], mod: ModuleDef): boolean {
  if (pattern.type === 'identifier') return true;
  if (binaryOperator(pattern) === '=')
    return eventMayMatch(pattern.childForFieldName('left')!, event, mod) && eventMayMatch(pattern.childForFieldName('right')!, event, mod);
  if (pattern.type !== 'list') return true;
  const items = codeChildren(pattern);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (binaryOperator(item) === '|') {
      const head = item.childForFieldName('left')!;
      return i < event.length && eventItem(head, event[i], mod);
    }
    if (i >= event.length || !eventItem(item, event[i], mod)) return false;
  }
  return items.length === event.length;
}

function eventItem(item: SyntaxNode, atom: string, mod: ModuleDef): boolean {
  if (item.type === 'identifier') return true;
  const value = literalAtom(item, mod);
  return value === undefined || value === atom;
}

/** `[:a, :b]` text for an event key. */
export function eventText(key: string): string {
  return `[${key.split('.').map((a) => `:${a}`).join(', ')}]`;
}

