import { finding } from '../core/findings.js';
import { localTarget, siteName, type Clause, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import { tailsOf, tupleItems, tupleTag } from '../core/model/returns.js';
import { bodyStatements } from '../core/rewrite.js';
import type { Finding, Transform } from '../core/types.js';

/** Calls that only do map bookkeeping. */
const BOOKKEEPING = /^(Map\.(update|update!|get|put|fetch!|merge)|update_in|put_in|get_in|Kernel\.\+|System\.monotonic_time|max|min)$/;
const INCREMENT = /(&1|\b\w+(\.\w+)*)\s*\+\s*(\d+|\w+)/;

const rule: Transform = {
  id: 'counters-in-state',
  title: 'A GenServer that only bumps counters',
  severity: 'low',
  seedRef: '8.2',
  fixSafety: 'none',
  options: {},
  explanation: `
**Detect only.** When a GenServer's handlers do nothing but increment numbers in its state
(\`{:task_started, ...}\` → \`Map.update!(stats, :tasks_started, &(&1 + 1))\`), every event in the system
becomes a message to that one process: the counting is serialized, the mailbox grows under load, and a
\`GenServer.call\` to bump a counter makes the caller wait for it.

Counters do not need a process. Use \`:counters\` (or \`:atomics\`) — lock-free, updated in the caller's
process — with the reference kept in \`:persistent_term\` or handed out at start, or emit
\`:telemetry.execute/3\` events and aggregate them with \`Telemetry.Metrics\` reporters. Keep the
GenServer (if at all) for the state that really needs serializing.

Before:
\`\`\`elixir
def handle_cast({:task_started, _pool}, state) do
  {:noreply, update_in(state.stats.tasks_started, &(&1 + 1))}
end
\`\`\`
After:
\`\`\`elixir
# at start: :persistent_term.put({__MODULE__, :stats}, :counters.new(2, [:write_concurrency]))
def task_started(_pool), do: :counters.add(:persistent_term.get({__MODULE__, :stats}), 1, 1)
\`\`\`
`,

  detect({ file }) {
    const out: Finding[] = [];
    for (const mod of file.modules) {
      if (!mod.kinds.has('genserver')) continue;
      const counting: Clause[] = [];
      for (const key of ['handle_cast/2', 'handle_info/2', 'handle_call/3']) {
        const fn = mod.functions.get(key);
        if (fn?.isCallback) counting.push(...fn.clauses.filter((c) => onlyCounts(c, mod)));
      }
      if (!counting.length) continue;
      const labels = counting.map((c) => `${c.fn.name}(${c.params[0].text.replace(/\s+/g, ' ').slice(0, 40)})`);
      out.push(
        finding(rule, file.path, {
          node: counting[0].head,
          key: `${mod.name}:counters`,
          fixable: false,
          message:
            `${labels.slice(0, 4).join(', ')}${labels.length > 4 ? ', …' : ''} of ${mod.name} only increment counters in state: every counted event is a message to this one process, ` +
            `serialized behind all others${counting.some((c) => c.fn.name === 'handle_call') ? ' (and a call makes the counting caller wait)' : ''}. ` +
            `Use :counters/:atomics updated in the caller, or :telemetry events with metrics.`,
        }),
      );
    }
    return out;
  },
};

export default rule;

/** A handler clause whose every path returns the state with only numbers incremented, and does nothing else. */
function onlyCounts(clause: Clause, mod: ModuleDef): boolean {
  if (!clause.body) return false;
  const tails = tailsOf(bodyStatements(clause));
  if (!tails.complete || !tails.nodes.length) return false;
  for (const tail of tails.nodes) {
    const tag = tupleTag(tail);
    const items = tupleItems(tail);
    if (tag === 'noreply' && items?.length === 2) continue;
    if (tag === 'reply' && items?.length === 3 && ['atom', 'boolean', 'nil'].includes(items[1].type)) continue;
    return false;
  }
  return increments(clause, mod, new Set());
}

/** Only bookkeeping calls (here and in local helpers), and at least one increment. */
function increments(clause: Clause, mod: ModuleDef, seen: Set<FunctionDef>): boolean {
  let found = INCREMENT.test(clause.body!.text) && !/\+\+/.test(clause.body!.text);
  for (const site of clause.calls) {
    if (site.capture) return false;
    const local = localTarget(site, mod);
    if (local) {
      if (seen.has(local)) continue;
      seen.add(local);
      if (!local.clauses.every((c) => !!c.body && increments(c, mod, seen))) return false;
      found = true;
      continue;
    }
    if (!BOOKKEEPING.test(siteName(site))) return false;
  }
  return found;
}

