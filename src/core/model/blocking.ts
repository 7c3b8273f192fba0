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
import {
  siteName,
  type CallSite,
  type Clause,
  type FunctionDef,
  type ModuleDef,
} from './module.js';
import type { ProjectIndex } from './project.js';

export type BlockingCategory =
  | 'http'
  | 'socket'
  | 'sleep'
  | 'task-wait'
  | 'receive'
  | 'os'
  | 'file'
  | 'repo'
  | 'sync-call'
  | 'remote'
  | 'retry';

export interface BlockingPattern {
  /** `Module.function`; `*` matches any run of characters in either part (`HTTPoison.*`, `*Repo.all`). */
  pattern: string;
  category: BlockingCategory;
}

const REPO_FUNCTIONS = [
  'all', 'one', 'one!', 'get', 'get!', 'get_by', 'get_by!', 'insert', 'insert!', 'update', 'update!',
  'delete', 'delete!', 'insert_all', 'update_all', 'delete_all', 'insert_or_update', 'insert_or_update!',
  'transaction', 'aggregate', 'exists?', 'preload', 'query', 'query!', 'reload', 'reload!', 'stream',
];
const HTTP_VERBS = ['get', 'get!', 'post', 'post!', 'put', 'put!', 'patch', 'patch!', 'delete', 'delete!', 'head', 'head!', 'request', 'request!'];

const group = (category: BlockingCategory, patterns: string[]): BlockingPattern[] => patterns.map((pattern) => ({ pattern, category }));

/** The default list. Rules take it as a `string[]` option (see `patternsFrom`). */
export const BLOCKING_CALLS: readonly BlockingPattern[] = [
  ...group('http', [
    'Finch.request', 'Finch.request!', 'Finch.stream', 'Finch.stream_while',
    'HTTPoison.*', 'HTTPotion.*',
    ...HTTP_VERBS.map((v) => `Req.${v}`), 'Req.run', 'Req.run!',
    ...HTTP_VERBS.map((v) => `Tesla.${v}`),
    ':httpc.request', ':hackney.request', ':hackney.body',
    'Mint.HTTP.connect', 'Mint.HTTP.recv', 'Mint.HTTP1.connect', 'Mint.HTTP2.connect',
  ]),
  ...group('socket', [
    ':gen_tcp.connect', ':gen_tcp.accept', ':gen_tcp.recv', ':gen_tcp.send',
    ':ssl.connect', ':ssl.handshake', ':ssl.recv', ':ssl.send', ':gen_udp.recv',
  ]),
  ...group('sleep', ['Process.sleep', ':timer.sleep']),
  ...group('task-wait', ['Task.await', 'Task.await_many', 'Task.yield', 'Task.yield_many']),
  ...group('os', ['System.cmd', 'System.shell', ':os.cmd']),
  ...group('file', [
    'File.read', 'File.read!', 'File.write', 'File.write!', 'File.stream!', 'File.open', 'File.open!',
    'File.cp', 'File.cp!', 'File.cp_r', 'File.cp_r!', 'File.copy', 'File.copy!', 'File.rm_rf', 'File.rm_rf!',
    ':file.read_file', ':file.write_file', ':file.consult',
  ]),
  ...group('repo', REPO_FUNCTIONS.map((f) => `*Repo.${f}`)),
  ...group('sync-call', [
    'GenServer.call', 'GenServer.multi_call', ':gen_server.call', ':gen_statem.call', 'GenStateMachine.call',
    'GenStage.call', 'Agent.get', 'Agent.update', 'Agent.get_and_update',
    'Supervisor.start_child', 'DynamicSupervisor.start_child',
  ]),
  ...group('remote', [':rpc.call', ':rpc.multicall', ':erpc.call', ':erpc.multicall']),
  // Unknown retry helpers (`RetryService.retry_operation(fn -> ... end)`) wait between attempts.
  ...group('retry', ['*.*retry*']),
];

const CATEGORY_BY_PATTERN = new Map(BLOCKING_CALLS.map((p) => [p.pattern, p.category]));

/** Patterns from a rule option: known patterns keep their category, others count as `remote`. */
export function patternsFrom(list: readonly string[]): BlockingPattern[] {
  return list.map((pattern) => ({ pattern, category: CATEGORY_BY_PATTERN.get(pattern) ?? 'remote' }));
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

  // The first wait reachable from `f` (its chain starting at `f`), or undefined.
  const firstIn = (f: FunctionDef, depth: number, visiting: Set<FunctionDef>): Omit<BlockingCall, 'entry' | 'clause'> | undefined => {
    if (memo.has(f)) return memo.get(f) ?? undefined;
    if (visiting.has(f) || depth > maxDepth) return undefined;
    visiting.add(f);
    let found: Omit<BlockingCall, 'entry' | 'clause'> | undefined;
    outer: for (const clause of f.clauses)
      for (const step of stepsIn(clause)) {
        if (step.direct) {
          found = { ...step.direct, chain: [f] };
          break outer;
        }
        const deeper = firstIn(step.callee!, depth + 1, visiting);
        if (deeper) {
          found = { ...deeper, chain: [f, ...deeper.chain] };
          break outer;
        }
      }
    visiting.delete(f);
    memo.set(f, found ?? null);
    return found;
  };

  interface Step {
    node: SyntaxNode;
    direct?: { node: SyntaxNode; what: string; category: BlockingCategory };
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
        steps.push({ node: site.node, direct: { node: site.node, what: siteName(site), category: match.category } });
        continue;
      }
      if (callee && callee !== clause.fn) steps.push({ node: site.node, callee });
    }
    if (withReceive && clause.body)
      for (const node of clause.body.descendantsOfType('call')) {
        if (callIdentifier(node) !== 'receive' || !runsDuringCall(node, clause)) continue;
        const wait = receiveWait(node);
        // `if Process.cancel_timer(ref) == false, do: receive(do: (^msg -> :ok))`: the message is already on its way.
        if (wait === 'receive (no timeout)' && clause.calls.some((c) => /^(Process|:erlang)\.cancel_timer$/.test(siteName(c)))) continue;
        if (wait) steps.push({ node, direct: { node, what: wait, category: 'receive' } });
      }
    return steps.sort((a, b) => a.node.startIndex - b.node.startIndex);
  };

  const out: BlockingCall[] = [];
  for (const clause of options.clause ? [options.clause] : fn.clauses)
    for (const step of stepsIn(clause)) {
      if (step.direct) out.push({ ...step.direct, chain: [fn], entry: step.node, clause });
      else {
        const deeper = firstIn(step.callee!, 1, new Set([fn]));
        if (deeper) out.push({ ...deeper, chain: [fn, ...deeper.chain], entry: step.node, clause });
      }
    }
  return out;
}

type FirstWait = Omit<BlockingCall, 'entry' | 'clause'> | null;

// Per index (results depend on other modules), per pattern list and settings: every rule and every
// clause asking about the same helper shares one answer instead of re-walking the call graph.
const memos = new WeakMap<object, WeakMap<readonly BlockingPattern[], Map<string, Map<FunctionDef, FirstWait>>>>();
const NO_PROJECT = {};

function sharedMemo(project: ProjectIndex | undefined, patterns: readonly BlockingPattern[], settings: string): Map<FunctionDef, FirstWait> {
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
