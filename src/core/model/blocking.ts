/**
 * Blocking work: calls that make the calling process wait (network, sleeps, awaiting other
 * processes, OS commands, file and database I/O), and `blockingCallsIn(fn)`, which finds them in a
 * function directly or through the functions it calls in the same process, several hops deep.
 *
 * `Port.open` is not listed: it only starts the program; the wait is the `receive` that collects
 * its output, and `receive` (without `after 0`) is blocking work here.
 */
import type { SyntaxNode } from '../parse.js';
import { callIdentifier, doBlock, stabClauses } from '../query.js';
import { describeTimeout, formatMs, LIBRARY_CALLS, parseTimeout, timeoutOf, type BlockingCategory, type LibraryCall, type ResolvedTimeout } from './library.js';
import { combinePaths, functionPath, pathInClause, type PathInfo } from './paths.js';
import {
  siteName,
  type CallSite,
  type Clause,
  type FunctionDef,
  type ModuleDef,
} from './module.js';
import type { ProjectIndex } from './project.js';

export type { BlockingCategory } from './library.js';

/** One entry of the library model (see library.ts): a pattern, its category, cost and timeout. */
export type BlockingPattern = LibraryCall;

/** The default list: the library model. Rules take it as a `string[]` option (see `patternsFrom`). */
export const BLOCKING_CALLS: readonly BlockingPattern[] = LIBRARY_CALLS;

const BY_PATTERN = new Map(BLOCKING_CALLS.map((p) => [p.pattern, p]));

/** Patterns from a rule option: known patterns keep their library entry, others count as `remote`. */
export function patternsFrom(list: readonly string[]): BlockingPattern[] {
  return list.map((pattern) => BY_PATTERN.get(pattern) ?? { pattern, category: 'remote', cost: `a call configured as blocking (${pattern})` });
}

/** Validation for a `string[]` option of blocking-call patterns. */
export function validatePatterns(value: unknown): string | undefined {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || !/^[^.\s]*\S*\.[^.\s]+$/.test(v)))
    return 'must be an array of "Module.function" patterns (`*` matches anything)';
  return undefined;
}

interface Compiled {
  module: RegExp;
  fun: RegExp;
  source: BlockingPattern;
}

const compiledCache = new WeakMap<readonly BlockingPattern[], Compiled[]>();

function glob(text: string): RegExp {
  return new RegExp(`^${text.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

function compile(patterns: readonly BlockingPattern[]): Compiled[] {
  let compiled = compiledCache.get(patterns);
  if (!compiled) {
    compiled = patterns.map((source) => {
      const dot = source.pattern.lastIndexOf('.');
      return { module: glob(source.pattern.slice(0, dot)), fun: glob(source.pattern.slice(dot + 1)), source };
    });
    compiledCache.set(patterns, compiled);
  }
  return compiled;
}

/** The pattern a remote call matches, if any. */
export function matchBlocking(site: CallSite, patterns: readonly BlockingPattern[] = BLOCKING_CALLS): BlockingPattern | undefined {
  if (!site.module || site.capture) return undefined;
  // Task.yield(task, 0) / Task.await(task, 0) poll without waiting.
  if (site.module === 'Task' && (site.name === 'yield' || site.name === 'await') && site.args[1]?.text === '0') return undefined;
  return compile(patterns).find((c) => c.module.test(site.module!) && c.fun.test(site.name))?.source;
}

export interface BlockingCall {
  /** The call (or `receive`) that waits. */
  node: SyntaxNode;
  /** `Finch.request`, `receive ... after`, `receive`. */
  what: string;
  category: BlockingCategory;
  /** From the function asked about to the one holding `node` (one element when direct). */
  chain: FunctionDef[];
  /** The node in the asked function's clause through which the wait is reached. */
  entry: SyntaxNode;
  clause: Clause;
  /** The waiting call and its library entry (absent for `receive`). */
  site?: CallSite;
  lib?: LibraryCall;
  /** The path from the asked function to the wait: normal, or only on an error, retry or option path. */
  path: PathInfo;
}

export interface BlockingOptions {
  patterns?: readonly BlockingPattern[];
  /** Count `receive` (except `after 0`) as blocking. Default true. */
  receive?: boolean;
  /** Also follow calls into other scanned modules' functions (they run in the calling process). */
  project?: ProjectIndex;
  /** Hops of calls to follow. Default 6. */
  maxDepth?: number;
  /** Only this clause of the function. */
  clause?: Clause;
}

/** Functions taking a `fn` that is run later or elsewhere, not during the call. */
const DEFERRED_HOSTS = new Set([':telemetry.attach', ':telemetry.attach_many', 'Stream.map', 'Stream.each', 'Stream.flat_map', 'Stream.filter']);

/**
 * Every place in `fn` (or one of its clauses) that waits, directly or through callees in the same
 * process: one entry per waiting call site in `fn`, with one representative wait for calls into
 * helpers. Work handed to another process (`Task.start(fn -> ... end)`), `fn`s that are only stored,
 * and `receive ... after 0` are not waiting.
 */
export function blockingCallsIn(fn: FunctionDef, options: BlockingOptions = {}): BlockingCall[] {
  const patterns = options.patterns ?? BLOCKING_CALLS;
  const withReceive = options.receive ?? true;
  const maxDepth = options.maxDepth ?? 6;
  const memo = sharedMemo(options.project, patterns, `${withReceive}:${maxDepth}`);

  // The first wait reachable from `f` (its chain starting at `f`), preferring one on the normal path.
  const firstIn = (f: FunctionDef, depth: number, visiting: Set<FunctionDef>): FirstWait | undefined => {
    if (memo.has(f)) return memo.get(f) ?? undefined;
    if (visiting.has(f) || depth > maxDepth) return undefined;
    visiting.add(f);
    const own = functionPath(f);
    let found: FirstWait | undefined;
    let rare: FirstWait | undefined;
    outer: for (const clause of f.clauses)
      for (const step of stepsIn(clause)) {
        let candidate: FirstWait | undefined;
        if (step.direct) candidate = { ...step.direct, chain: [f], path: combinePaths([own, step.path]) };
        else {
          const deeper = firstIn(step.callee!, depth + 1, visiting);
          if (deeper) candidate = { ...deeper, chain: [f, ...deeper.chain], path: combinePaths([own, step.path, deeper.path]) };
        }
        if (!candidate) continue;
        if (candidate.path.kind === 'normal') {
          found = candidate;
          break outer;
        }
        rare ??= candidate;
      }
    found ??= rare;
    visiting.delete(f);
    memo.set(f, found ?? null);
    return found;
  };

  interface Step {
    node: SyntaxNode;
    path: PathInfo;
    direct?: Pick<BlockingCall, 'node' | 'what' | 'category' | 'site' | 'lib'>;
    callee?: FunctionDef;
  }
  const stepsIn = (clause: Clause): Step[] => {
    const steps: Step[] = [];
    for (const site of clause.calls) {
      if (site.spawned || !runsDuringCall(site.node, clause)) continue;
      const match = matchBlocking(site, patterns);
      const callee = calleeOf(site, clause.fn.module, options.project);
      // A retry helper is only presumed to wait when its code is out of sight; scanned code is read.
      if (match && !(match.category === 'retry' && callee)) {
        steps.push({ node: site.node, path: pathInClause(site.node, clause), direct: { node: site.node, what: siteName(site), category: match.category, site, lib: match } });
        continue;
      }
      if (callee && callee !== clause.fn) steps.push({ node: site.node, path: pathInClause(site.node, clause), callee });
    }
    if (withReceive && clause.body)
      for (const node of clause.body.descendantsOfType('call')) {
        if (callIdentifier(node) !== 'receive' || !runsDuringCall(node, clause)) continue;
        const wait = receiveWait(node);
        // `if Process.cancel_timer(ref) == false, do: receive(do: (^msg -> :ok))`: the message is already on its way.
        if (wait === 'receive (no timeout)' && clause.calls.some((c) => /^(Process|:erlang)\.cancel_timer$/.test(siteName(c)))) continue;
        if (wait) steps.push({ node, path: pathInClause(node, clause), direct: { node, what: wait, category: 'receive' } });
      }
    return steps.sort((a, b) => a.node.startIndex - b.node.startIndex);
  };

  const out: BlockingCall[] = [];
  for (const clause of options.clause ? [options.clause] : fn.clauses)
    for (const step of stepsIn(clause)) {
      if (step.direct) out.push({ ...step.direct, chain: [fn], entry: step.node, clause, path: step.path });
      else {
        const deeper = firstIn(step.callee!, 1, new Set([fn]));
        if (deeper) out.push({ ...deeper, chain: [fn, ...deeper.chain], entry: step.node, clause, path: combinePaths([step.path, deeper.path]) });
      }
    }
  return out;
}

type FirstWait = Omit<BlockingCall, 'entry' | 'clause'>;

// Per index (results depend on other modules), per pattern list and settings: every rule and every
// clause asking about the same helper shares one answer instead of re-walking the call graph.
const memos = new WeakMap<object, WeakMap<readonly BlockingPattern[], Map<string, Map<FunctionDef, FirstWait | null>>>>();
const NO_PROJECT = {};

function sharedMemo(project: ProjectIndex | undefined, patterns: readonly BlockingPattern[], settings: string): Map<FunctionDef, FirstWait | null> {
  const scope = project ?? NO_PROJECT;
  let byPatterns = memos.get(scope);
  if (!byPatterns) memos.set(scope, (byPatterns = new WeakMap()));
  let bySettings = byPatterns.get(patterns);
  if (!bySettings) byPatterns.set(patterns, (bySettings = new Map()));
  let memo = bySettings.get(settings);
  if (!memo) bySettings.set(settings, (memo = new Map()));
  return memo;
}

/** `receive` without `after` waits forever; `after 0` does not wait. */
function receiveWait(node: SyntaxNode): string | undefined {
  const block = doBlock(node);
  const after = block?.namedChildren.find((c) => c.type === 'after_block');
  if (!after) return 'receive (no timeout)';
  const timeout = stabClauses(after)[0]?.childForFieldName('left')?.text.trim();
  return timeout === '0' ? undefined : 'receive ... after';
}

/** False for code inside a `fn` that is only stored or handed to something that runs it later. */
function runsDuringCall(node: SyntaxNode, clause: Clause): boolean {
  for (let n = node.parent; n && n.id !== clause.node.id; n = n.parent) {
    const isFn = n.type === 'anonymous_function' || (n.type === 'unary_operator' && n.child(0)?.type === '&' && n.id !== node.id);
    if (!isFn) continue;
    const args = n.parent;
    const host = args?.type === 'arguments' && args.parent?.type === 'call' ? args.parent : undefined;
    if (!host) return false;
    const target = host.childForFieldName('target');
    if (target && DEFERRED_HOSTS.has(target.text)) return false;
    // `backend.remote_spawn_monitor(state, fn -> ... end)`, `MyPool.async(fn -> ... end)`: run elsewhere.
    if (target && /(^|[._])(spawn|async|start_child|start_link|start)(_\w+)?$/.test(target.text)) return false;
  }
  return true;
}

function calleeOf(site: CallSite, mod: ModuleDef, project: ProjectIndex | undefined): FunctionDef | undefined {
  if (site.dynamic) return undefined;
  if (site.module === undefined || site.module === mod.name) return mod.functions.get(`${site.name}/${site.arity}`);
  const other = project?.modules.get(site.module);
  const fn = other?.functions.get(`${site.name}/${site.arity}`);
  return fn && (fn.kind === 'def') ? fn : undefined;
}

/** `Finch.request (via connect/1 → do_connect/2)`. */
export function describeBlocking(call: BlockingCall): string {
  const via = call.chain.length > 1 ? ` (via ${call.chain.slice(1).map((f) => `${f.module === call.chain[0].module ? '' : `${f.module.name}.`}${f.name}/${f.arity}`).join(' → ')})` : '';
  return `${call.what}${via}`;
}

/** The default list without calls to other processes (rules about those exist: sync-call-in-callback). */
export const BLOCKING_WORK: readonly BlockingPattern[] = BLOCKING_CALLS.filter((p) => p.category !== 'sync-call');

/** Patterns from an option list, once per index (the compiled matcher is cached per array). */
export function cachedPatterns(project: ProjectIndex, list: readonly string[]): readonly BlockingPattern[] {
  return project.memo(`blocking-patterns:${JSON.stringify(list)}`, () => patternsFrom(list));
}

/** Waits reached through a piece of a clause's code (a statement, an expression). */
export function codeBlocking(
  clause: Clause,
  root: SyntaxNode,
  patterns: readonly BlockingPattern[],
  project?: ProjectIndex,
  receive = true,
): BlockingCall[] {
  return blockingCallsIn(clause.fn, { clause, patterns, project, receive }).filter(
    (c) => c.entry.startIndex >= root.startIndex && c.entry.endIndex <= root.endIndex,
  );
}

/** How serious a wait is: network, database, sleeps and other processes; local disk; the own mailbox. */
export function evidenceWeight(call: BlockingCall): 'wait' | 'disk' | 'mailbox' {
  return call.category === 'receive' ? 'mailbox' : call.category === 'file' ? 'disk' : 'wait';
}

/** The timeout the wait is bounded by: the call's own, else its library's default. */
export function waitTimeout(call: BlockingCall): ResolvedTimeout | undefined {
  return call.site && call.lib ? timeoutOf(call.site, call.lib) : undefined;
}

/** What the wait costs, for messages: `a database query`, `a sleep of 2 s`, `a receive with no timeout`. */
export function costOf(call: BlockingCall): string {
  if (call.category === 'receive') {
    const after = receiveTimeout(call);
    if (!after) return 'a receive with no timeout';
    const ms = parseTimeout(after);
    return `a receive bounded by its own timeout (${typeof ms === 'number' ? formatMs(ms) : after})`;
  }
  if (call.category === 'sleep') {
    const t = waitTimeout(call);
    return !t ? 'a sleep' : t.value === undefined ? `a sleep of ${t.text}` : `a sleep of ${t.value === 'infinity' ? 'forever' : describeTimeout(t)}`;
  }
  return call.lib?.cost ?? 'a blocking call';
}

/** `Sequin.Repo.insert_all (a database query, 15 s default timeout)`. */
export function describeWait(call: BlockingCall): string {
  const t = call.category === 'sleep' ? undefined : waitTimeout(call);
  const shown = describeTimeout(t);
  const bound = !t ? '' : shown === 'no timeout' ? ', no timeout' : `, ${t.from === 'call' ? 'timeout' : 'default timeout'} ${shown}`;
  return `${describeBlocking(call)} (${costOf(call)}${bound})`;
}

/** Only the waits on the normal path, or all of them when every one is on a rare path. */
export function normalFirst(calls: BlockingCall[]): { calls: BlockingCall[]; rare: boolean } {
  const normal = calls.filter((c) => c.path.kind === 'normal');
  return normal.length ? { calls: normal, rare: false } : { calls, rare: calls.length > 0 };
}

/** ` It only happens after {:error, _} (a rare path), so it is reported at low.` */
export function rarePathNote(calls: BlockingCall[]): string {
  const why = calls[0]?.path.why;
  return ` It only waits on a rare path (${why ?? 'error or retry'}), not on every call, so it is reported as low.`;
}

/** The clause patterns of a `receive`, and its `after` timeout text. */
function receiveParts(node: SyntaxNode): { patterns: string[]; after?: string } {
  const block = doBlock(node);
  if (!block) {
    // `receive do: ({:EXIT, ^pid, _} -> :ok)`: the keyword form.
    const patterns = node
      .descendantsOfType('stab_clause')
      .filter((c) => ownReceive(c) === node.id)
      .map((c) => c.childForFieldName('left')?.text.trim() ?? '');
    return { patterns };
  }
  const patterns = stabClauses(block).map((c) => c.childForFieldName('left')?.text.trim() ?? '');
  const after = block.namedChildren.find((c) => c.type === 'after_block');
  return { patterns, after: after ? stabClauses(after)[0]?.childForFieldName('left')?.text.trim() : undefined };
}

function ownReceive(n: SyntaxNode): number | undefined {
  for (let p = n.parent; p; p = p.parent) if (p.type === 'call' && callIdentifier(p) === 'receive') return p.id;
  return undefined;
}

/**
 * `start_utility(sup, %{owner: self()})` then `receive do: ({:ets, ets} -> ets)`: a handshake with a
 * process it just started and told where to answer, which sends as soon as it runs.
 */
export function isHandshake(call: BlockingCall): boolean {
  if (call.category !== 'receive' || receiveTimeout(call)) return false;
  for (let n: SyntaxNode | null = call.node; n?.parent; n = n.parent) {
    const siblings = n.parent.namedChildren;
    const i = siblings.findIndex((x) => x.id === n!.id);
    const before = siblings.slice(0, i);
    // `parent = self()` bound earlier and handed to the process started just before.
    const selfVars = before.map((s) => /^(\w+)\s*=\s*self\(\)$/.exec(s.text.trim())?.[1]).filter((v): v is string => !!v);
    const hands = (t: string) => /\bself\(\)/.test(t) || selfVars.some((v) => new RegExp(`\\b${v}\\b`).test(t));
    if (before.some((s) => /\b(start\w*|spawn\w*)\(/.test(s.text) && hands(s.text))) return true;
    if (n.parent.type === 'call' && /^defp?$/.test(callIdentifier(n.parent) ?? '')) return false;
  }
  return false;
}

/**
 * `receive {:DOWN, ^ref, ...}` / `{:EXIT, pid, _}`: waiting for a monitored or linked process to end
 * (the shutdown protocol supervisors and owners follow), not for work.
 */
export function isExitWait(call: BlockingCall): boolean {
  if (call.category !== 'receive') return false;
  const { patterns } = receiveParts(call.node);
  const exit = (p: string) => /^\{\s*:(DOWN|EXIT)\b/.test(p);
  // A kill timer's message may be waited for alongside (`{:timeout, ^timer, :kill}`).
  return patterns.some(exit) && patterns.every((p) => exit(p) || /^\{\s*:timeout\b/.test(p));
}

/**
 * A `receive ... after T` bounded by its own timeout (T as written), or by a timer the same function
 * arms with `Process.send_after` before waiting (`a timer it sets`).
 */
export function receiveTimeout(call: BlockingCall): string | undefined {
  if (call.category !== 'receive') return undefined;
  const after = receiveParts(call.node).after;
  if (after) return after;
  for (let n = call.node.parent; n; n = n.parent)
    if (n.type === 'call' && /^defp?$/.test(callIdentifier(n) ?? '')) return /\bsend_after\(/.test(n.text) ? 'a timer it sets' : undefined;
  return undefined;
}

/** `Task.yield(task, timeout)` / `Task.yield_many(tasks, timeout)`: a wait bounded by the call's own timeout, the caller handles what is left. */
export function isBoundedYield(call: BlockingCall): boolean {
  return call.category === 'task-wait' && /^Task\.yield/.test(call.what) && waitTimeout(call)?.from === 'call';
}
