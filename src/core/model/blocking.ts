/**
 * Blocking work: calls that wait on the network, the disk, a port, a timer or another process's
 * reply, found directly or through local helpers several hops deep (only through calls that stay in
 * the same process: code handed to Task/spawn blocks someone else).
 */
import type { SyntaxNode } from '../parse.js';
import { callIdentifier, descendants, isInside } from '../query.js';
import type { ProjectIndex } from './project.js';
import { inSpawnedCode, localTarget, siteName, type CallSite, type Clause, type FunctionDef } from './module.js';

/** Glob-like patterns over `Module.function` (`*` matches any run of characters). */
export const DEFAULT_BLOCKING_CALLS = [
  'Finch.request', 'Finch.request!', 'Finch.stream',
  'HTTPoison.get', 'HTTPoison.get!', 'HTTPoison.post', 'HTTPoison.post!', 'HTTPoison.put', 'HTTPoison.put!',
  'HTTPoison.patch', 'HTTPoison.delete', 'HTTPoison.head', 'HTTPoison.request', 'HTTPoison.request!',
  'Req.get', 'Req.get!', 'Req.post', 'Req.post!', 'Req.put', 'Req.put!', 'Req.patch', 'Req.patch!',
  'Req.delete', 'Req.delete!', 'Req.head', 'Req.head!', 'Req.request', 'Req.request!',
  'Tesla.get', 'Tesla.post', 'Tesla.put', 'Tesla.patch', 'Tesla.delete', 'Tesla.request',
  ':httpc.request', 'Mint.HTTP.connect', 'Mint.HTTP.recv', ':hackney.request',
  ':gen_tcp.connect', ':gen_tcp.recv', ':gen_tcp.accept', ':ssl.connect', ':ssl.recv', ':ssl.handshake',
  'Process.sleep', ':timer.sleep',
  'Task.await', 'Task.await_many', 'Task.yield', 'Task.yield_many',
  'System.cmd', 'System.shell', ':os.cmd',
  'File.read', 'File.read!', 'File.write', 'File.write!', 'File.stream!', 'File.cp', 'File.cp!', 'File.cp_r',
  'File.rm', 'File.rm_rf', 'File.ls', 'File.ls!', 'File.mkdir_p', 'File.open', ':file.read_file', ':file.write_file',
  '*.Repo.*', 'Repo.*',
];

export type BlockingMatcher = (site: CallSite) => boolean;

export function blockingMatcher(patterns: string[]): BlockingMatcher {
  const regexes = patterns.map((p) => new RegExp(`^${p.split('*').map(escape).join('.*')}$`));
  return (site) => {
    if (site.capture || site.dynamic || !site.module) return false;
    const name = siteName(site);
    // Task.yield(task, 0) / Task.await(task, 0) poll without waiting.
    if (/^Task\.(yield|await)$/.test(name) && site.args[1]?.text === '0') return false;
    return regexes.some((r) => r.test(name));
  };
}

/** One matcher per pattern list and index, so the per-function cache below is shared by all files. */
export function cachedMatcher(project: ProjectIndex, patterns: string[]): BlockingMatcher {
  return project.memo(`blocking-matcher:${JSON.stringify(patterns)}`, () => blockingMatcher(patterns));
}

function escape(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\!]/g, '\\$&');
}

export interface BlockingEvidence {
  /** The blocking call (or `receive ... after`). */
  node: SyntaxNode;
  /** `:httpc.request/4`, `receive ... after`. */
  label: string;
  /** Local functions between the starting code and the blocking call (empty when direct). */
  via: FunctionDef[];
  /** A `receive`: waits on this process's own mailbox, so it cannot move to another process. */
  receive: boolean;
}

function directEvidence(clause: Clause, root: SyntaxNode, matches: BlockingMatcher): BlockingEvidence[] {
  const sites = clause.calls;
  const found: BlockingEvidence[] = [];
  for (const site of sites)
    if (!site.spawned && isInside(site.node, root) && matches(site))
      found.push({ node: site.node, label: `${siteName(site)}/${site.arity}`, via: [], receive: false });
  for (const node of descendants(root, ['call']))
    if (callIdentifier(node) === 'receive' && waitsInReceive(node) && !flushesTimer(clause) && !inSpawnedCode(node, clause.fn.module))
      found.push({ node, label: node.text.includes('after') ? 'receive ... after' : 'receive', via: [], receive: true });
  return found;
}

/** A `receive` that can wait: no `after`, or a timeout other than `after 0` (which only flushes). */
function waitsInReceive(receive: SyntaxNode): boolean {
  const block = receive.namedChildren.find((c) => c.type === 'do_block');
  const after = block?.namedChildren.find((c) => c.type === 'after_block');
  if (!after) return true;
  const timeouts = after.namedChildren.filter((c) => c.type === 'stab_clause').map((c) => c.childForFieldName('left')?.text.trim());
  return timeouts.some((t) => t !== '0');
}

/**
 * `if Process.cancel_timer(ref) == false, do: receive(do: (:tick -> :ok))`: the timer already fired,
 * so its message is in the mailbox and the receive returns at once — a flush, not a wait.
 */
function flushesTimer(clause: Clause): boolean {
  return clause.calls.some((s) => ['Process.cancel_timer', ':erlang.cancel_timer'].includes(siteName(s)));
}

/** How serious the wait is: network, database, sleeps and other processes; local disk; own mailbox. */
export function evidenceWeight(e: BlockingEvidence): 'wait' | 'disk' | 'mailbox' {
  if (e.receive) return 'mailbox';
  return /^(File\.|:file\.)/.test(e.label) ? 'disk' : 'wait';
}

const cache = new WeakMap<FunctionDef, Map<BlockingMatcher, BlockingEvidence[]>>();

/** Blocking work a function does when called, itself or through local helpers (first found per path). */
export function functionBlocking(fn: FunctionDef, matches: BlockingMatcher, depth = 6, seen = new Set<FunctionDef>()): BlockingEvidence[] {
  const memo = cache.get(fn)?.get(matches);
  if (memo) return memo;
  if (seen.has(fn) || depth < 0) return [];
  seen.add(fn);
  const found: BlockingEvidence[] = [];
  for (const clause of fn.clauses) if (clause.body) found.push(...codeBlocking(clause, clause.body, matches, depth, seen));
  seen.delete(fn);
  if (!cache.has(fn)) cache.set(fn, new Map());
  cache.get(fn)!.set(matches, found);
  return found;
}

/** Blocking work done by a piece of a clause's code (a statement, an expression). */
export function codeBlocking(
  clause: Clause,
  root: SyntaxNode,
  matches: BlockingMatcher,
  depth = 6,
  seen = new Set<FunctionDef>([clause.fn]),
): BlockingEvidence[] {
  const found = directEvidence(clause, root, matches);
  for (const site of clause.calls) {
    if (site.spawned || !isInside(site.node, root)) continue;
    const target = localTarget(site, clause.fn.module);
    if (!target || target === clause.fn || seen.has(target)) continue;
    for (const e of functionBlocking(target, matches, depth - 1, seen))
      found.push({ ...e, via: [target, ...e.via], node: e.node });
  }
  return found;
}

export function describeEvidence(e: BlockingEvidence): string {
  const chain = e.via.map((f) => `${f.name}/${f.arity}`).join(' → ');
  return chain ? `${e.label} (via ${chain})` : e.label;
}
