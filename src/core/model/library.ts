/**
 * The library model, as data: calls into known libraries that make the calling process wait (what
 * one call costs on the normal path, its default timeout and where the call can set another), and
 * the APIs that start processes (who supervises and who is linked to what they start).
 *
 * Rules read this table instead of keeping their own patterns, so a library added here is seen by
 * every rule that asks "does this wait?" or "does this start a process?", and messages can name the
 * real cost ("a database query") and the real timeout (the call's own, else the library default).
 */
import type { SyntaxNode } from '../parse.js';
import type { CallSite } from './module.js';

export type BlockingCategory =
  | 'http'
  | 'socket'
  | 'sleep'
  | 'task-wait'
  | 'receive'
  | 'os'
  | 'file'
  | 'repo'
  | 'redis'
  | 'sync-call'
  | 'remote'
  | 'retry';

/** Milliseconds, or `infinity` when the call waits as long as it takes. */
export type Timeout = number | 'infinity';

export interface LibraryCall {
  /** `Module.function`; `*` matches any run of characters in either part (`HTTPoison.*`, `*Repo.all`). */
  pattern: string;
  category: BlockingCategory;
  /** What one call costs on the normal path: `an HTTP request`, `a database query`. */
  cost: string;
  /** The wait when the call sets none; undefined when there is no single bound (disk, OS commands). */
  timeout?: Timeout;
  /** Where the call sets its own timeout: the positional argument (0-based) by arity. */
  timeoutArg?: Record<number, number>;
  /** ...or this key of a keyword list / `{key, value}` option anywhere in the arguments. */
  timeoutOption?: string;
}

const REPO_FUNCTIONS = [
  'all', 'one', 'one!', 'get', 'get!', 'get_by', 'get_by!', 'insert', 'insert!', 'update', 'update!',
  'delete', 'delete!', 'insert_all', 'update_all', 'delete_all', 'insert_or_update', 'insert_or_update!',
  'transaction', 'aggregate', 'exists?', 'preload', 'query', 'query!', 'reload', 'reload!', 'stream',
];
const HTTP_VERBS = ['get', 'get!', 'post', 'post!', 'put', 'put!', 'patch', 'patch!', 'delete', 'delete!', 'head', 'head!', 'request', 'request!'];

type Spec = Omit<LibraryCall, 'pattern' | 'category'>;
const group = (category: BlockingCategory, spec: Spec, patterns: string[]): LibraryCall[] =>
  patterns.map((pattern) => ({ pattern, category, ...spec }));
const at = (arity: number, index: number): Record<number, number> => ({ [arity]: index });

const HTTP = 'an HTTP request to another service';
const DB = 'a database query';

export const LIBRARY_CALLS: readonly LibraryCall[] = [
  // Finch and Req: receive_timeout 15 s by default.
  ...group('http', { cost: HTTP, timeout: 15_000, timeoutOption: 'receive_timeout' }, [
    'Finch.request', 'Finch.request!', 'Finch.stream', 'Finch.stream_while',
    ...HTTP_VERBS.map((v) => `Req.${v}`), 'Req.run', 'Req.run!',
  ]),
  ...group('http', { cost: HTTP, timeout: 5_000, timeoutOption: 'recv_timeout' }, ['HTTPoison.*', ':hackney.request', ':hackney.body']),
  ...group('http', { cost: HTTP, timeout: 5_000, timeoutOption: 'timeout' }, ['HTTPotion.*']),
  // Tesla's timeout is the adapter's (or Tesla.Middleware.Timeout's): not one number.
  ...group('http', { cost: HTTP }, HTTP_VERBS.map((v) => `Tesla.${v}`)),
  // :httpc waits forever unless HTTPOptions say {:timeout, ms}.
  ...group('http', { cost: HTTP, timeout: 'infinity', timeoutOption: 'timeout' }, [':httpc.request']),
  ...group('http', { cost: 'an HTTP connection or read' }, ['Mint.HTTP.connect', 'Mint.HTTP.recv', 'Mint.HTTP1.connect', 'Mint.HTTP2.connect']),
  ...group('socket', { cost: 'a network connection', timeout: 'infinity', timeoutArg: { ...at(4, 3), ...at(3, 2) } }, [':gen_tcp.connect', ':ssl.connect']),
  ...group('socket', { cost: 'a network accept or handshake', timeout: 'infinity', timeoutArg: at(2, 1) }, [':gen_tcp.accept', ':ssl.handshake']),
  ...group('socket', { cost: 'a network read', timeout: 'infinity', timeoutArg: at(3, 2) }, [':gen_tcp.recv', ':ssl.recv', ':gen_udp.recv']),
  ...group('socket', { cost: 'a network write' }, [':gen_tcp.send', ':ssl.send']),
  ...group('sleep', { cost: 'a sleep', timeoutArg: at(1, 0) }, ['Process.sleep', ':timer.sleep']),
  ...group('task-wait', { cost: 'waiting for a task', timeout: 5_000, timeoutArg: at(2, 1) }, ['Task.await', 'Task.await_many', 'Task.yield', 'Task.yield_many']),
  ...group('os', { cost: 'an OS command' }, ['System.cmd', 'System.shell', ':os.cmd']),
  ...group('file', { cost: 'local disk I/O' }, [
    'File.read', 'File.read!', 'File.write', 'File.write!', 'File.stream!', 'File.open', 'File.open!',
    'File.cp', 'File.cp!', 'File.cp_r', 'File.cp_r!', 'File.copy', 'File.copy!', 'File.rm_rf', 'File.rm_rf!',
    ':file.read_file', ':file.write_file', ':file.consult',
  ]),
  ...group('file', { cost: 'a :dets disk read or write' }, [
    ':dets.open_file', ':dets.insert', ':dets.insert_new', ':dets.lookup', ':dets.member', ':dets.delete',
    ':dets.delete_object', ':dets.delete_all_objects', ':dets.match', ':dets.match_object', ':dets.select',
    ':dets.foldl', ':dets.foldr', ':dets.traverse', ':dets.sync', ':dets.close',
  ]),
  // Ecto's and Postgrex's pool checkout plus query: 15 s by default, `timeout:` per call.
  ...group('repo', { cost: DB, timeout: 15_000, timeoutOption: 'timeout' }, [
    ...REPO_FUNCTIONS.map((f) => `*Repo.${f}`),
    'Postgrex.query', 'Postgrex.query!', 'Postgrex.execute', 'Postgrex.execute!', 'Postgrex.prepare_execute',
    'Postgrex.prepare_execute!', 'Postgrex.transaction',
    'Ecto.Adapters.SQL.query', 'Ecto.Adapters.SQL.query!',
  ]),
  ...group('redis', { cost: 'a Redis round trip', timeout: 5_000, timeoutOption: 'timeout' }, [
    'Redix.command', 'Redix.command!', 'Redix.pipeline', 'Redix.pipeline!', 'Redix.transaction_pipeline',
    'Redix.transaction_pipeline!',
  ]),
  ...group('sync-call', { cost: 'a call to another process', timeout: 5_000, timeoutArg: at(3, 2) }, [
    'GenServer.call', ':gen_server.call', ':gen_statem.call', 'GenStateMachine.call', 'GenStage.call',
    'Agent.get', 'Agent.update', 'Agent.get_and_update',
  ]),
  ...group('sync-call', { cost: 'calls to a server on every node', timeout: 'infinity', timeoutArg: { ...at(4, 3), ...at(3, 2) } }, ['GenServer.multi_call']),
  // start_child waits for the child's init/1 and has no timeout of its own.
  ...group('sync-call', { cost: "starting a child (its init/1 runs meanwhile)", timeout: 'infinity' }, ['Supervisor.start_child', 'DynamicSupervisor.start_child']),
  ...group('remote', { cost: 'a call to another node', timeout: 'infinity', timeoutArg: at(5, 4) }, [':rpc.call', ':rpc.multicall']),
  ...group('remote', { cost: 'a call to another node', timeout: 'infinity', timeoutArg: { ...at(5, 4), ...at(3, 2) } }, [':erpc.call', ':erpc.multicall']),
  // Unknown retry helpers (`RetryService.retry_operation(fn -> ... end)`) wait between attempts.
  ...group('retry', { cost: 'retries with waits between attempts' }, ['*.*retry*']),
];

export interface ResolvedTimeout {
  /** Undefined when the call sets it with an expression that is not a literal (`@timeout`, `backoff`). */
  value: Timeout | undefined;
  /** `'call'`: set by the call; `'default'`: the library's default. */
  from: 'call' | 'default';
  /** The source text when the call sets it (`30_000`, `@timeout`), for messages. */
  text?: string;
}

/** The timeout a call waits for: its own argument or option when it sets one, else the library default. */
export function timeoutOf(site: CallSite, entry: LibraryCall): ResolvedTimeout | undefined {
  const index = entry.timeoutArg?.[site.arity];
  const args = site.args.map(resolveLocal);
  const arg = index !== undefined ? args[index] : entry.timeoutOption ? optionValue(args, entry.timeoutOption) : undefined;
  if (arg) {
    const value = resolveLocal(arg);
    return { value: parseTimeout(value.text), from: 'call', text: value.text.trim() };
  }
  // Options from a variable we cannot read (`Repo.one(query, opts)`) may set it: say nothing.
  const last = args[args.length - 1];
  if (entry.timeoutOption && last && index === undefined && (last.type === 'identifier' || /\|\s*\w+\s*\]$/.test(last.text))) return undefined;
  return entry.timeout !== undefined ? { value: entry.timeout, from: 'default' } : undefined;
}

/** A variable bound earlier in the same body (`http_options = [timeout: 15_000]`) to its value. */
function resolveLocal(node: SyntaxNode): SyntaxNode {
  if (node.type !== 'identifier') return node;
  for (let a: SyntaxNode | null = node; a?.parent; a = a.parent) {
    const block = a.parent;
    if (!['do_block', 'body', 'source'].includes(block.type)) continue;
    const siblings = block.namedChildren;
    for (let i = siblings.findIndex((x) => x.id === a!.id) - 1; i >= 0; i--) {
      const s = siblings[i];
      if (s.type === 'binary_operator' && s.childForFieldName('operator')?.text === '=' && s.childForFieldName('left')?.text === node.text)
        return s.childForFieldName('right') ?? node;
    }
  }
  return node;
}

/** `30_000` → 30000, `:timer.seconds(30)` → 30000, `:infinity` → 'infinity'; undefined when not a literal. */
export function parseTimeout(text: string): Timeout | undefined {
  const t = text.trim();
  if (t === ':infinity') return 'infinity';
  if (/^\d[\d_]*$/.test(t)) return Number(t.replace(/_/g, ''));
  const m = /^:timer\.(seconds|minutes|hours)\((\d[\d_]*)\)$/.exec(t) ?? /^to_timeout\((second|minute|hour)s?: (\d[\d_]*)\)$/.exec(t);
  if (m) return Number(m[2].replace(/_/g, '')) * ({ second: 1e3, seconds: 1e3, minute: 6e4, minutes: 6e4, hour: 36e5, hours: 36e5 } as Record<string, number>)[m[1]];
  const mul = /^(\d[\d_]*)\s*\*\s*(\d[\d_]*)$/.exec(t);
  if (mul) return Number(mul[1].replace(/_/g, '')) * Number(mul[2].replace(/_/g, ''));
  return undefined;
}

/** `5 s`, `15 s`, `500 ms`, `no timeout`; a call's own non-literal timeout is shown as written. */
export function describeTimeout(t: ResolvedTimeout | undefined): string | undefined {
  if (!t) return undefined;
  if (t.value === undefined) return `its timeout (${t.text})`;
  if (t.value === 'infinity') return 'no timeout';
  return formatMs(t.value);
}

export function formatMs(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000 && ms % 100 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}

function optionValue(args: SyntaxNode[], key: string): SyntaxNode | undefined {
  for (const arg of args) {
    for (const pair of arg.descendantsOfType('pair')) {
      const k = pair.childForFieldName('key')?.text.trim();
      if (k === `${key}:`) return pair.childForFieldName('value') ?? undefined;
    }
    // Erlang-style options: `[{:timeout, 30_000}]`.
    for (const tuple of arg.descendantsOfType('tuple')) {
      const items = tuple.namedChildren;
      if (items.length === 2 && items[0].text === `:${key}`) return items[1];
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Process-start APIs

export interface ProcessStart {
  /** The new process has a supervisor (Task.Supervisor, DynamicSupervisor). */
  supervised: boolean;
  /** How it is tied to the caller: `linked` dies with it, `monitored` is watched, `unlinked` neither. */
  tie: 'unlinked' | 'linked' | 'monitored' | 'awaited';
  /** The function argument runs in the new process (not in the caller). */
  runsFn: boolean;
}

const start = (supervised: boolean, tie: ProcessStart['tie'], runsFn = true): ProcessStart => ({ supervised, tie, runsFn });

export const PROCESS_STARTS: Readonly<Record<string, ProcessStart>> = {
  spawn: start(false, 'unlinked'),
  'Kernel.spawn': start(false, 'unlinked'),
  'Process.spawn': start(false, 'unlinked'),
  ':erlang.spawn': start(false, 'unlinked'),
  ':proc_lib.spawn': start(false, 'unlinked'),
  'Task.start': start(false, 'unlinked'),
  spawn_link: start(false, 'linked'),
  'Kernel.spawn_link': start(false, 'linked'),
  ':erlang.spawn_link': start(false, 'linked'),
  ':proc_lib.spawn_link': start(false, 'linked'),
  'Task.start_link': start(false, 'linked'),
  spawn_monitor: start(false, 'monitored'),
  'Kernel.spawn_monitor': start(false, 'monitored'),
  ':erlang.spawn_monitor': start(false, 'monitored'),
  'Task.async': start(false, 'awaited'),
  'Task.async_stream': start(false, 'awaited'),
  'Task.Supervisor.start_child': start(true, 'unlinked'),
  'Task.Supervisor.async': start(true, 'awaited'),
  'Task.Supervisor.async_nolink': start(true, 'monitored'),
  'Task.Supervisor.async_stream': start(true, 'awaited'),
  'Task.Supervisor.async_stream_nolink': start(true, 'awaited'),
  'Agent.start': start(false, 'unlinked'),
  'Agent.start_link': start(false, 'linked'),
};
