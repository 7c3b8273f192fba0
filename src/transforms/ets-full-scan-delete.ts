import { finding, fnLabel } from '../core/findings.js';
import { allSites, moduleSites, sitesOnTable, tableLabel, type EtsSite } from '../core/model/ets-process.js';
import type { EtsTable } from '../core/model/ets.js';
import { literalAtom, localTarget, uniqueFunctions, type Clause, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import type { SyntaxNode } from '../core/parse.js';
import { atomValue, binaryOperator, codeChildren, keywordPairs } from '../core/query.js';
import type { Finding, Transform } from '../core/types.js';

type Options = Record<string, never>;

interface Scan {
  site: EtsSite;
  /** Why the key does not narrow the delete. */
  why: 'unbound' | 'partial';
  keypos: number;
}

const COLD_CALLBACKS = new Set(['init/1', 'terminate/2', 'code_change/3', 'handle_continue/2']);

const rule: Transform<Options> = {
  id: 'ets-full-scan-delete',
  title: 'match_delete/select_delete with an unbound key scans the whole table on a hot path',
  severity: 'medium',
  seedRef: '3.3',
  fixSafety: 'none',
  options: {},
  explanation: `
\`:ets.match_delete(table, pattern)\` and \`:ets.select_delete(table, match_spec)\` can only jump to
the matching objects when the pattern binds the **key** (the element at the table's keypos, 1 by
default). With the key unbound (\`{:_, agent_id}\`, \`{:"$1", ...}\`) — or only partly bound in a
\`:set\`/\`:bag\`, which hashes the whole key — ETS visits every object of the table. Done once per
request (in \`handle_call\`, \`handle_cast\`, a per-event \`handle_info\`, or a public API function),
the cost grows with the table: unregistering one agent from four indexes is four full scans, and
n unregistrations cost O(n²).

This rule is detect only; the fix is a data-structure change:

- **Reverse index.** Next to an index keyed by capability (\`{capability, agent_id}\` in a \`:bag\`),
  keep a \`:bag\`/\`:duplicate_bag\` keyed by the thing you delete by (\`{agent_id, capability}\`). To
  remove an agent: \`for {_, cap} <- :ets.take(by_agent, agent_id), do:
  :ets.delete_object(index, {cap, agent_id})\` — every step uses a bound key.
- **Key by what you delete by.** If entries are always removed per agent, make the agent id the key
  (a \`:bag\` keyed by agent id holds all its entries; \`:ets.delete(table, agent_id)\` removes them).
- **\`:ordered_set\` with a bound key prefix.** For composite keys \`{pool, idx}\`, an \`:ordered_set\`
  lets \`{{pool, :_}, ...}\` visit only that pool's range.

Periodic sweeps (a \`handle_info\` the process schedules for itself with \`Process.send_after\`) and
\`init\`/\`terminate\` are not reported: scanning is what a sweep does. Tables that are bounded by
evidence (filled only in \`init/1\`, or kept under a size check) are reported at low severity.

Before (seed 3.3):
\`\`\`elixir
defp clear_agent_from_indexes(state, agent_id) do
  :ets.match_delete(state.capability_index, {:_, agent_id})
  :ets.match_delete(state.health_index, {:_, agent_id})
end
\`\`\`
With a reverse index (\`state.agent_entries\` is a \`:bag\` of \`{agent_id, {index, key}}\`):
\`\`\`elixir
defp clear_agent_from_indexes(state, agent_id) do
  for {^agent_id, {index, key}} <- :ets.take(state.agent_entries, agent_id) do
    :ets.delete_object(Map.fetch!(state, index), {key, agent_id})
  end
end
\`\`\`
`,

  detect({ file, project }) {
    const out: Finding[] = [];
    for (const mod of file.modules) {
      const scans = moduleSites(project, mod)
        .map((site) => scanOf(site))
        .filter((s): s is Scan => !!s);
      const byClause = new Map<Clause, Scan[]>();
      for (const s of scans) byClause.set(s.site.clause, [...(byClause.get(s.site.clause) ?? []), s]);
      for (const [clause, list] of byClause) {
        const roots = hotRoots(clause);
        if (!roots.length) continue;
        const tables = [...new Set(list.flatMap((s) => s.site.tables))];
        const bounded = tables.length > 0 && tables.every((t) => boundedBy(project, t));
        const first = list[0];
        const described = list.map((s) => `\`${s.site.site.node.text.replace(/\s+/g, ' ')}\``);
        const keyWhy = (s: Scan) =>
          s.why === 'unbound'
            ? `the key (element ${s.keypos}) is unbound`
            : 'the key is only partly bound, and a hash table (:set/:bag) cannot use part of a key';
        const idx = clause.fn.clauses.indexOf(clause);
        let message =
          list.length > 1
            ? `${list.length} full-table scans in a row: ${described.join(', ')}. In each, ${keyWhy(first)}, so ETS visits every object.`
            : `${described[0]} scans the whole table: ${keyWhy(first)}, so ETS visits every object.`;
        message += ` This runs on every ${roots.join(', ')}, so its cost grows with the table.`;
        if (bounded) message += ` The table looks bounded (${boundReason(project, tables)}), so the cost is capped.`;
        message += ' Keep a reverse index (a :bag keyed by what you delete by) or key the table by it; see the explanation.';
        out.push(
          finding(rule, file.path, {
            node: first.site.site.node,
            key: `${fnLabel(clause.fn)}#${idx}:scan:${list.map((s) => s.site.refText).join(',')}`,
            fixable: false,
            severity: bounded ? 'low' : rule.severity,
            message,
          }),
        );
      }
    }
    return out;
  },
};

export default rule;

/** A match_delete/select_delete whose pattern does not bind the key. */
function scanOf(site: EtsSite): Scan | undefined {
  if ((site.op !== 'match_delete' && site.op !== 'select_delete') || site.site.arity !== 2) return undefined;
  const keypos = keyposOf(site.tables);
  if (keypos === undefined) return undefined;
  const arg = resolveLocal(site.site.args[1], site.clause);
  if (!arg) return undefined;
  const heads: SyntaxNode[] = [];
  let targeted = false;
  if (site.op === 'match_delete') heads.push(arg);
  else {
    if (arg.type !== 'list') return undefined;
    for (const spec of codeChildren(arg)) {
      if (spec.type !== 'tuple') return undefined;
      const head = resolveLocal(codeChildren(spec)[0], site.clause);
      if (!head) return undefined;
      heads.push(head);
      const guards = resolveLocal(codeChildren(spec)[1], site.clause);
      const guardTexts = guards?.type === 'list' ? codeChildren(guards).map((g) => resolveLocal(g, site.clause)?.text ?? g.text) : [guards?.text ?? ''];
      if (guardTexts.some((g) => /:"=:="|:==|:"=="/.test(g))) targeted = true;
    }
  }
  if (!heads.length) return undefined;
  // Deleting by a value (`{:_, agent_id}`, a `=:=` guard) could use an index; a pattern of wildcards
  // with only range guards (`$1 < now`) is a sweep over everything, which a scan is for.
  if (!targeted && !heads.some(bindsValue)) return undefined;
  const types = new Set(site.tables.map((t) => t.type));
  let worst: Scan['why'] | undefined;
  for (const head of heads) {
    const key = keyElement(head, keypos);
    if (key === undefined) return undefined; // not a pattern we can read
    const k = keyBinding(key);
    if (k === 'bound') return undefined; // one narrow head: not a scan of everything
    if (k === 'prefix') {
      // An ordered_set walks only the range of a bound prefix; unknown type: cannot tell.
      if (!types.size || types.has('ordered_set')) return undefined;
      worst ??= 'partial';
    } else worst = 'unbound';
  }
  return worst ? { site, why: worst, keypos } : undefined;
}

function keyposOf(tables: EtsTable[]): number | undefined {
  if (!tables.length) return 1;
  const positions = new Set(
    tables.map((t) => {
      const opts = t.site.args[1];
      if (opts?.type !== 'list') return 1;
      for (const item of codeChildren(opts)) {
        if (item.type === 'tuple' && atomValue(codeChildren(item)[0]) === 'keypos') return Number(codeChildren(item)[1]?.text) || 1;
        const kp = keywordPairs(item.type === 'keywords' ? item : undefined)?.find((p) => p.key === 'keypos');
        if (kp) return Number(kp.value.text) || 1;
      }
      return 1;
    }),
  );
  return positions.size === 1 ? [...positions][0] : undefined;
}

/** A variable bound once in the clause before use (`spec = [...]`) → its value. */
function resolveLocal(node: SyntaxNode | undefined, clause: Clause): SyntaxNode | undefined {
  if (!node) return undefined;
  if (node.type !== 'identifier' || !clause.body) return node;
  let found: SyntaxNode | undefined;
  for (const eq of clause.body.descendantsOfType('binary_operator')) {
    if (binaryOperator(eq) !== '=' || eq.startIndex > node.startIndex) continue;
    const left = eq.childForFieldName('left');
    if (left?.type === 'identifier' && left.text === node.text) found = eq.childForFieldName('right') ?? undefined;
  }
  return found;
}

/** The element at keypos of a tuple pattern, or the pattern itself when it is a wildcard. */
function keyElement(head: SyntaxNode, keypos: number): SyntaxNode | undefined {
  if (head.type === 'tuple') return codeChildren(head)[keypos - 1];
  if (isWildcard(head)) return head;
  return undefined;
}

/** The pattern fixes some element to a value (a variable, a literal), not only wildcards. */
function bindsValue(head: SyntaxNode): boolean {
  if (head.type === 'tuple' || head.type === 'list') return codeChildren(head).some(bindsValue);
  return !isWildcard(head);
}

function isWildcard(node: SyntaxNode): boolean {
  const atom = atomValue(node);
  return atom === '_' || (atom !== undefined && /^\$\d+$/.test(atom));
}

/**
 * `bound`: the whole key is given. `prefix`: a leading part is given (`{pool, :_}`), which an
 * ordered_set can use as a range. `unbound`: nothing usable (`:_`, `{:_, id}`).
 */
function keyBinding(key: SyntaxNode): 'bound' | 'prefix' | 'unbound' {
  if (isWildcard(key)) return 'unbound';
  if (key.type === 'tuple' || key.type === 'list') {
    const items = codeChildren(key);
    const kinds = items.map(keyBinding);
    if (kinds.every((k) => k === 'bound')) return 'bound';
    return kinds[0] === 'unbound' ? 'unbound' : 'prefix';
  }
  return 'bound';
}

// ---------------------------------------------------------------------------------------------
// Hot paths: per-request callbacks and public API functions, not init/terminate or periodic sweeps.

/** Labels of the hot entry points that reach this clause (empty when only cold ones do). */
function hotRoots(clause: Clause): string[] {
  const out = new Set<string>();
  const seen = new Set<Clause>();
  const visit = (c: Clause, depth: number) => {
    if (seen.has(c) || depth > 6) return;
    seen.add(c);
    const fn = c.fn;
    const mod = fn.module;
    const key = `${fn.name}/${fn.arity}`;
    if (fn.isCallback) {
      if (COLD_CALLBACKS.has(key)) return;
      if (key === 'handle_info/2' && periodic(c, mod)) return;
      out.add(callbackLabel(c));
      return;
    }
    if (mod.kinds.has('application') && key === 'start/2') return;
    const callers = localCallerClauses(fn, mod);
    if (fn.kind === 'def' || fn.kind === 'defmacro') out.add(`call of ${mod.name}.${key}`);
    for (const caller of callers) visit(caller, depth + 1);
  };
  visit(clause, 0);
  return [...out];
}

function callbackLabel(c: Clause): string {
  const msg = c.params[0];
  const shown = msg && msg.text.length <= 40 ? ` (${msg.text.replace(/\s+/g, ' ')})` : '';
  return `${c.fn.module.name}.${c.fn.name}/${c.fn.arity}${shown}`;
}

function localCallerClauses(fn: FunctionDef, mod: ModuleDef): Clause[] {
  const out: Clause[] = [];
  for (const other of uniqueFunctions(mod))
    for (const c of other.clauses) if (c.calls.some((s) => localTarget(s, mod) === fn && !s.spawned)) out.push(c);
  return out;
}

/** `handle_info(:sweep, ...)` where the module schedules `:sweep` for itself (send_after, send_interval). */
function periodic(clause: Clause, mod: ModuleDef): boolean {
  const msg = clause.params[0];
  const tag = msg?.type === 'tuple' ? codeChildren(msg)[0] : msg;
  const atom = tag ? literalAtom(tag, mod) : undefined;
  if (atom === undefined) return false;
  for (const fn of uniqueFunctions(mod))
    for (const c of fn.clauses)
      for (const site of c.calls) {
        const name = `${site.module ?? ''}.${site.name}`;
        if (!/^(Process\.send_after|:erlang\.send_after|:timer\.send_interval|:timer\.send_after)$/.test(name)) continue;
        const message = site.name === 'send_interval' || (site.module === ':timer' && site.name === 'send_after') ? site.args[site.args.length - 1] : site.args[1];
        const sent = message?.type === 'tuple' ? codeChildren(message)[0] : message;
        if (sent && literalAtom(sent, mod) === atom) return true;
      }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Bounded tables

function boundedBy(project: ProjectIndex, table: EtsTable): boolean {
  return !!boundReasonOf(project, table);
}

function boundReasonOf(project: ProjectIndex, table: EtsTable): string | undefined {
  const ops = sitesOnTable(project, table);
  const inserts = ops.filter((s) => s.op === 'insert' || s.op === 'insert_new');
  if (inserts.length && inserts.every((s) => s.fn.name === 'init' || s.fn === table.fn)) return 'filled only when it is created';
  const sized = allSites(project).some(
    (s) => s.op === 'info' && s.site.args[1]?.text === ':size' && s.tables.includes(table) && isCompared(s.site.node),
  );
  if (sized) return 'its size is checked before inserts';
  return undefined;
}

function boundReason(project: ProjectIndex, tables: EtsTable[]): string {
  return tables.map((t) => `${tableLabel(t)}: ${boundReasonOf(project, t)}`).join('; ');
}

function isCompared(call: SyntaxNode): boolean {
  const op = call.parent ? binaryOperator(call.parent) : undefined;
  return !!op && ['<', '<=', '>', '>='].includes(op);
}

