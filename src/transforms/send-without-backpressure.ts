import { finding, fnLabel } from '../core/findings.js';
import {
  isProcessModule,
  localTarget,
  siteName,
  uniqueFunctions,
  type CallSite,
  type Clause,
  type FunctionDef,
  type ModuleDef,
} from '../core/model/module.js';
import { patternVariables } from '../core/model/vars.js';
import type { SyntaxNode } from '../core/parse.js';
import { binaryOperator, callArguments, callIdentifier, codeChildren } from '../core/query.js';
import { clauseText, memberIndent, newClausePlacement } from '../core/rewrite.js';
import type { Edit, Finding, Transform } from '../core/types.js';

interface Options {
  maxMailbox: number;
  dropWhenFull: boolean;
}

/** Calls that run their function argument once per element, in the calling process. */
const LOOPS = /^(Enum\.(each|map|flat_map|reduce|reduce_while|filter|reject|map_reduce|zip_with|with_index|into|for_each)|Map\.(new|filter|reject)|:lists\.(foreach|map|foldl))$/;

const HELPER = 'send_or_drop';

interface Data {
  site: CallSite;
  mod: ModuleDef;
  fixable: boolean;
}

const rule: Transform<Options> = {
  id: 'send-without-backpressure',
  title: 'Fan-out send with no mailbox limit',
  severity: 'medium',
  seedRef: '6.1',
  fixSafety: 'review',
  options: {
    maxMailbox: {
      type: 'number',
      default: 10_000,
      description:
        'Mailbox length at which a local subscriber is considered overwhelmed: further messages to it are dropped and counted. Size it from the burst a healthy subscriber absorbs (messages per second × the pause you tolerate).',
      validate: (v) => (Number.isInteger(v) && (v as number) > 0 ? undefined : 'must be a positive integer'),
    },
    dropWhenFull: {
      type: 'boolean',
      default: false,
      description:
        'Opt in to the fix: the messages these sends deliver may be lost (state snapshots, metrics, notifications a subscriber can re-read). Off by default, because code does not show whether a message is part of a contract (a ledger, a job, a reply), and dropping one breaks it.',
    },
  },
  explanation: `
\`send/2\` never blocks and never fails: it appends to the receiver's mailbox whatever its length. A
server that fans every event out to a list of subscribers (\`Enum.each(subs, &send(&1, msg))\`,
\`for pid <- pids, do: send(pid, msg)\`) therefore runs at the producer's pace, and one slow subscriber's
mailbox grows without bound: its memory grows, each \`receive\` with a pattern scans a longer queue, and
it falls further behind until the node runs out of memory.

Whether a message may be lost is not in the code: a ledger event, a job or a reply must arrive, a
state snapshot or a metric may not. So the rule only reports by default, and the finding says how to
bound the mailbox by hand. With the option \`dropWhenFull\` (you have checked that the messages may be
lost) the fix adds a mailbox-length guard, \`send_or_drop/2\`: for a local pid whose
\`Process.info(pid, :message_queue_len)\` is at or above \`maxMailbox\`, the message is **dropped** and
counted instead of queued. The count lives in a \`:counters\` reference kept in \`:persistent_term\` (one
per module, created on the first drop), and \`dropped_messages/0\` reads it — it survives the server's
restarts and needs no change to the state or to the callbacks' return values; attach it to your metrics.
Remote pids and registered names are sent to as before (\`Process.info/2\` only works on local pids).

**Review it:** dropping changes delivery. It fits notifications a subscriber can miss or re-read
(state snapshots, telemetry); when every message matters use demand-driven flow instead (GenStage /
Broadway, or acks from the subscriber with a window of in-flight messages).

Before:
\`\`\`elixir
def handle_cast({:publish, event}, state) do
  Enum.each(state.subscribers, fn pid -> send(pid, {:event, event}) end)
  {:noreply, state}
end
\`\`\`
After:
\`\`\`elixir
def handle_cast({:publish, event}, state) do
  Enum.each(state.subscribers, fn pid -> send_or_drop(pid, {:event, event}) end)
  {:noreply, state}
end

defp send_or_drop(dest, message) do
  case is_pid(dest) and node(dest) == node() and Process.info(dest, :message_queue_len) do
    {:message_queue_len, queued} when queued >= 10_000 ->
      :counters.add(dropped_counter(), 1, 1)
      message

    _ ->
      send(dest, message)
  end
end
\`\`\`
`,

  detect({ file, options }) {
    const out: Finding[] = [];
    for (const mod of file.modules) {
      if (!isProcessModule(mod)) continue;
      for (const fn of uniqueFunctions(mod)) {
        if (fn.context !== 'server' && fn.context !== 'both') continue;
        for (const clause of fn.clauses)
          for (const site of clause.calls) {
            const fanOut = fanOutOf(site, clause);
            if (!fanOut || pacedEntries(clause)) continue;
            const base = `${fnLabel(fn)}:send(${argsText(site)})`;
            const n = ordinalOf(fn, site);
            const optionsSend = siteName(site) === 'Process.send';
            const fixable = !optionsSend && options.dropWhenFull;
            out.push(
              finding(rule, file.path, {
                node: site.node,
                key: n ? `${base}#${n}` : base,
                fixable,
                message: message(fn, site, fanOut, optionsSend ? 'options' : fixable ? undefined : 'contract'),
                data: { site, mod, fixable } satisfies Data,
              }),
            );
          }
      }
    }
    return out;
  },

  fix(f, { file, options }) {
    const { site, mod } = f.data as Data;
    if (!options.dropWhenFull) return { skip: DROP_NOT_SHOWN };
    const target = site.node.childForFieldName('target')!;
    const edits: Edit[] = [{ file: file.path, start: target.startIndex, end: target.endIndex, text: HELPER }];
    if (!mod.functions.has(`${HELPER}/2`)) {
      const taken = ['dropped_messages/0', 'dropped_counter/0'].filter((k) => mod.functions.has(k));
      if (taken.length) return { skip: `${mod.name} already defines ${taken.join(' and ')}, which the guard would add` };
      const placement = newClausePlacement(file, mod, `${HELPER}/2`);
      edits.push({ file: file.path, start: placement.offset, end: placement.offset, text: clauseText(helpers(options.maxMailbox), memberIndent(file, mod), placement, false) });
    }
    return { edits };
  },
};

export default rule;

interface FanOut {
  /** `Enum.each`, `for`. */
  loop: string;
  /** The collection iterated. */
  collection: string;
}

/** A send whose destination is the element of a loop over a collection, in this process. */
function fanOutOf(site: CallSite, clause: Clause): FanOut | undefined {
  const name = siteName(site);
  if (site.capture || site.spawned) return undefined;
  if (!((name === 'send' || name === 'Kernel.send') && site.arity === 2) && !(name === 'Process.send' && site.arity === 3)) return undefined;
  const [dest, msg] = site.args;
  if (!dest || !msg) return undefined;
  // A message carrying self() asks for a reply: the exchange is paced by the replies.
  if (msg.descendantsOfType('call').some((c) => callIdentifier(c) === 'self')) return undefined;
  const destVars = new Set([...dest.descendantsOfType('identifier')].map((n) => n.text).concat(dest.type === 'identifier' ? [dest.text] : []));
  const captureArg = dest.text.includes('&1');
  for (let n = site.node.parent; n && n.id !== clause.node.id; n = n.parent) {
    if (n.type === 'anonymous_function' || (n.type === 'unary_operator' && n.child(0)?.type === '&')) {
      const host = n.parent?.type === 'arguments' ? n.parent.parent : undefined;
      const hostName = host?.childForFieldName('target')?.text;
      if (!host || !hostName || !LOOPS.test(hostName)) return undefined;
      const params = n.type === 'anonymous_function' ? fnParams(n) : new Set<string>();
      const elementDest = n.type === 'anonymous_function' ? [...destVars].some((v) => params.has(v)) : captureArg;
      if (!elementDest) return undefined;
      if (guarded(host)) return undefined;
      return { loop: hostName, collection: collectionOf(host) };
    }
    if (n.type === 'call' && callIdentifier(n) === 'for') {
      const generators = codeChildren(n.namedChildren.find((c) => c.type === 'arguments')!).filter((a) => binaryOperator(a) === '<-');
      const bound = new Set(generators.flatMap((g) => [...patternVariables(g.childForFieldName('left')!)]));
      if (![...destVars].some((v) => bound.has(v)) || guarded(n)) return undefined;
      return { loop: 'for', collection: generators[0]?.childForFieldName('right')?.text ?? 'a collection' };
    }
  }
  return undefined;
}

function argsText(site: CallSite): string {
  return site.args.map((a) => a.text).join(', ');
}

/** Among this function's sends with the same arguments, fixed (`send_or_drop`) or not: stable across fixes. */
function ordinalOf(fn: FunctionDef, site: CallSite): number {
  const text = argsText(site);
  const same = fn.clauses
    .flatMap((c) => c.calls)
    .filter((c) => !c.capture && ['send', 'Kernel.send', 'Process.send', HELPER].includes(siteName(c)) && argsText(c) === text);
  return same.findIndex((c) => c.node.startIndex === site.node.startIndex);
}

function fnParams(fnNode: SyntaxNode): Set<string> {
  const out = new Set<string>();
  for (const clause of fnNode.namedChildren.filter((c) => c.type === 'stab_clause')) {
    const left = clause.childForFieldName('left');
    if (left) for (const v of patternVariables(left)) out.add(v);
  }
  return out;
}

/** Code that already looks at the receiver's mailbox. */
function guarded(loop: SyntaxNode): boolean {
  return /message_queue_len/.test(loop.text);
}

function collectionOf(host: SyntaxNode): string {
  const piped = host.parent && binaryOperator(host.parent) === '|>' && host.parent.childForFieldName('right')?.id === host.id;
  const first = piped ? host.parent!.childForFieldName('left') : callArguments(host)[0];
  return first?.text.split('\n')[0] ?? 'a collection';
}

const DROP_NOT_SHOWN =
  "the only local fix drops messages to a full mailbox, and nothing here shows that these messages may be lost (a ledger event, a job or a reply must arrive). Bound the flow by hand (demand from the subscribers, GenStage/Broadway, or acks with a window of in-flight messages), or, if the messages are droppable notifications, enable this rule's option dropWhenFull";

function message(fn: FunctionDef, site: CallSite, fanOut: FanOut, blocked?: 'options' | 'contract'): string {
  const collection = fanOut.collection.length > 40 ? `${fanOut.collection.slice(0, 40)}…` : fanOut.collection;
  let text =
    `${fnLabel(fn)} runs in the ${fn.module.name} process and sends to every element of \`${collection}\` (${fanOut.loop}) ` +
    `with no check on the receivers' mailboxes: a subscriber slower than the producer queues every message, and its mailbox and memory grow without bound. ` +
    `It becomes real when events can arrive faster than the slowest subscriber handles them.`;
  if (blocked === 'options') text += ` Not rewritten: ${siteName(site)}/3 carries send options; guard it by hand.`;
  if (blocked === 'contract') text += ` Not rewritten: ${DROP_NOT_SHOWN}.`;
  return text;
}

function formatInt(n: number): string {
  return n >= 10_000 ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, '_') : String(n);
}

function helpers(max: number): string {
  return `# Backpressure (otpfix): a local receiver with ${formatInt(max)} or more queued messages gets no more;
# the message is dropped and counted instead (see dropped_messages/0).
defp ${HELPER}(dest, message) do
  case is_pid(dest) and node(dest) == node() and Process.info(dest, :message_queue_len) do
    {:message_queue_len, queued} when queued >= ${formatInt(max)} ->
      :counters.add(dropped_counter(), 1, 1)
      message

    _ ->
      send(dest, message)
  end
end

@doc "Messages dropped by ${HELPER}/2 on this node, summed over the processes of this module."
def dropped_messages do
  case :persistent_term.get({__MODULE__, :dropped_messages}, nil) do
    nil -> 0
    counter -> :counters.get(counter, 1)
  end
end

defp dropped_counter do
  case :persistent_term.get({__MODULE__, :dropped_messages}, nil) do
    nil ->
      counter = :counters.new(1, [:write_concurrency])
      :persistent_term.put({__MODULE__, :dropped_messages}, counter)
      counter

    counter ->
      counter
  end
end`;
}

/**
 * Every callback clause that reaches this clause (itself, or through same-module helpers) is paced by
 * something other than the publishers: a timer tick (`handle_info(:stage, ..)`), a process lifecycle
 * message (`:DOWN`, `:EXIT`, `:nodeup`), or start-up. Its fan-out runs at that pace, not the event rate.
 */
function pacedEntries(clause: Clause): boolean {
  const mod = clause.fn.module;
  const entries: Clause[] = [];
  const seen = new Set<FunctionDef>();
  const queue: FunctionDef[] = [clause.fn];
  while (queue.length) {
    const fn = queue.pop()!;
    if (seen.has(fn) || seen.size > 20) continue;
    seen.add(fn);
    if (fn.isCallback) {
      entries.push(...(fn === clause.fn ? [clause] : fn.clauses.filter((c) => c.calls.some((s) => seen.has(localTarget(s, mod)!)))));
      continue;
    }
    let called = false;
    for (const other of uniqueFunctions(mod))
      for (const c of other.clauses)
        if (c.calls.some((s) => !s.capture && localTarget(s, mod) === fn)) {
          called = true;
          if (other.isCallback) entries.push(c);
          else queue.push(other);
        }
    if (!called) return false; // a public entry of its own: callers set the pace
  }
  return entries.length > 0 && entries.every(paced);
}

const LIFECYCLE = /^\{:(DOWN|EXIT|nodeup|nodedown|timeout)\b/;

function paced(c: Clause): boolean {
  const name = c.fn.name;
  if (name === 'init' || name === 'handle_continue' || name === 'terminate') return true;
  if (name !== 'handle_info') return false;
  const msg = c.params[0];
  if (!msg) return false;
  return msg.type === 'atom' || LIFECYCLE.test(msg.text);
}
