import { finding, fnLabel } from '../core/findings.js';
import { isProcessModule, sameProcessCallees, uniqueFunctions, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import { fieldWrites, removedSomewhere, sizeChecked, type FieldWrite } from '../core/model/state.js';
import type { Finding, Transform } from '../core/types.js';

const rule: Transform = {
  id: 'unbounded-state-growth',
  title: 'State field that only grows',
  severity: 'medium',
  seedRef: '4.2',
  fixSafety: 'none',
  options: {},
  explanation: `
**Detect only.** A GenServer's state lives on its heap for as long as the process lives — for a
registered server, as long as the node. A field that callbacks only ever add to (\`[event | state.log]\`,
\`Map.put(state.sessions, id, s)\`, \`:queue.in(job, state.queue)\`) and that nothing removes from (no
\`Map.delete\`, \`Enum.take\`, filter, reset) grows with every message: memory climbs, garbage collection
copies an ever larger heap, and \`:sys.get_state\` / crash reports get huge.

What counts as bounded (and stays silent): any write that removes or trims (\`Enum.take(100)\`,
\`Map.delete\`, \`Enum.filter\`, \`tl\`, a reset to \`[]\` or \`%{}\`), a size check on the field
(\`map_size(state.cache) >= max\`), or a value the rule cannot classify. A keyed insert
(\`Map.put(state.by_id, id, v)\`) is reported at lower severity: it is bounded by the number of distinct
keys, which may be small (one per node) or not (one per request id).

How to fix by hand: cap lists (\`Enum.take(list, n)\` or a \`:queue\` with a length), expire map entries
on a timer (\`Process.send_after\` + \`Map.reject\` by age), remove entries when their owner goes away
(monitor it and \`Map.delete\` on \`:DOWN\`), or move the data to ETS with a cleanup.

Before:
\`\`\`elixir
def handle_cast({:record, event}, state) do
  {:noreply, %{state | events: [event | state.events]}}
end
\`\`\`
After:
\`\`\`elixir
def handle_cast({:record, event}, state) do
  {:noreply, %{state | events: Enum.take([event | state.events], 1_000)}}
end
\`\`\`
`,

  detect({ file }) {
    const out: Finding[] = [];
    for (const mod of file.modules) {
      if (!isProcessModule(mod)) continue;
      const live = afterStart(mod);
      const byField = new Map<string, FieldWrite[]>();
      for (const w of fieldWrites(mod)) {
        if (w.clause.fn.name === 'init' && w.clause.fn.isCallback) continue; // initial values
        byField.set(w.field, [...(byField.get(w.field) ?? []), w]);
      }
      for (const [field, writes] of byField) {
        const grows = writes.filter((w) => w.kind === 'grow' && live.has(w.clause.fn));
        if (!grows.length || writes.some((w) => w.kind === 'shrink' || w.kind === 'set') || sizeChecked(mod, field) || removedSomewhere(mod, field)) continue;
        const first = grows[0];
        const keyedOnly = grows.every((w) => /^(keyed insert|set insert|merge)\b/.test(w.how ?? ''));
        // Keyed by a small domain (table ids, module names, test types) a map stays bounded; keyed by
        // process ids or refs it gains an entry per process that ever showed up and keeps the dead ones.
        if (keyedOnly && !grows.some(keyedByProcess)) continue;
        const where = [...new Set(grows.map((w) => fnLabel(w.clause.fn)))];
        out.push(
          finding(rule, file.path, {
            node: first.node,
            key: `${mod.name}:state.${field}`,
            fixable: false,
            severity: keyedOnly ? 'low' : undefined,
            message:
              `state.${field} of ${mod.name} only grows: ${where.join(', ')} add${where.length === 1 ? 's' : ''} to it (${[...new Set(grows.map((w) => w.how))].join(', ')}) ` +
              `and no code in the module removes from it, trims it or resets it. The server's heap grows with every such message for as long as the process lives. ` +
              (keyedOnly
                ? `It is keyed by process ids or references, so every process that ever registers leaves an entry behind unless its exit removes it: remove the entry on its :DOWN (monitor it).`
                : `Cap it (Enum.take), expire entries on a timer, or remove them when their owner goes away.`),
          }),
        );
      }
    }
    return out;
  },
};

export default rule;

/** Functions the server runs after init/1: callbacks other than init and what they call. */
function afterStart(mod: ModuleDef): Set<FunctionDef> {
  const roots = uniqueFunctions(mod).filter((f) => f.isCallback && f.name !== 'init');
  const seen = new Set(roots);
  const queue = [...roots];
  while (queue.length) for (const next of sameProcessCallees(queue.pop()!)) if (!seen.has(next)) (seen.add(next), queue.push(next));
  return seen;
}

/** A keyed insert whose key is a pid or a reference (`client_pid`, `ref`, `from`, `self()`, `Process.monitor(..)`). */
function keyedByProcess(w: FieldWrite): boolean {
  const key = w.key?.text ?? '';
  return /^(from|self\(\)|make_ref\(\)|Process\.monitor\(.*\)|[a-z_]*(pid|ref)s?)$/.test(key) || /^\{?_?[a-z_]*pid\b/.test(key);
}
