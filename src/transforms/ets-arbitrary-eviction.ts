import { finding, fnLabel } from '../core/findings.js';
import { Taint } from '../core/model/dataflow.js';
import { moduleSites, tableLabel, type EtsSite } from '../core/model/ets-process.js';
import { localTarget, uniqueFunctions, type Clause, type FileModel, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import type { SyntaxNode } from '../core/parse.js';
import { binaryOperator, callArguments, callIdentifier, codeChildren, descendants, indentAt, isInside, keywordPairs, lineStart } from '../core/query.js';
import { displayWidth, LINE_LENGTH } from '../core/rewrite.js';
import type { Edit, Finding, Transform } from '../core/types.js';

type Options = Record<string, never>;

/** A clause that evicts `:ets.first(t)` when `:ets.info(t, :size)` reaches a bound, then inserts. */
interface Eviction {
  clause: Clause;
  /** The conditional on the size. */
  guard: SyntaxNode;
  /** Its condition expression. */
  condition: SyntaxNode;
  /** The `:ets.first` call (possibly in a helper). */
  first: EtsSite;
  evictor: FunctionDef;
  /** The insert after the size check, and the key it writes. */
  insert?: EtsSite;
  key?: SyntaxNode;
  /** The condition already skips eviction for existing keys. */
  memberGuard: boolean;
}

interface Plan {
  edits?: Edit[];
  skip?: string;
}

const rule: Transform<Options> = {
  id: 'ets-arbitrary-eviction',
  title: 'Cache eviction deletes :ets.first/1, an arbitrary entry, even on updates',
  severity: 'medium',
  seedRef: '3.2',
  fixSafety: 'review',
  options: {},
  explanation: `
A size-bounded cache that evicts with \`:ets.first/1\` when \`:ets.info(table, :size)\` reaches the
limit has two problems on a \`:set\`/\`:bag\` table:

1. **It evicts on updates.** Overwriting a key that is already cached does not grow the table, yet the
   size check still evicts an entry first: a full cache shrinks on every update, and can evict the
   very key being written, or a hot one.
2. **The victim is arbitrary.** \`:ets.first/1\` on a hash table returns whatever key hashes first: not
   the oldest and not the least recently used. (It is not "O(n)": it is cheap, just meaningless as an
   eviction order.)

otpfix fixes the first: eviction runs only when the key is new (\`not :ets.member(table, key)\`), so
updates never evict. The second needs a policy; choose one:

- **LRU/FIFO with an \`:ordered_set\` index**: a second table keyed by \`{last_access_time, key}\`
  (\`System.monotonic_time()\` or \`:erlang.unique_integer([:monotonic])\`); evict
  \`:ets.first(index)\`, the oldest, and refresh the index entry on each hit.
- **A sweep instead of one-at-a-time eviction**: \`:ets.select(table, spec, limit)\` to take a batch of
  candidates (e.g. expired or oldest by a stored timestamp) and delete them together, from the owner.
- **A library**: Cachex (\`Cachex.prune/3\` and the \`Cachex.Limit.Scheduled\`/\`Evented\` hooks evict
  least recently written entries; \`Cachex.Limit.Accessed\` tracks access for LRU), or ConCache for
  TTL-based expiry (it has no size limit).

An \`:ordered_set\` whose keys are times is already ordered oldest first, so \`:ets.first/1\` there is a
deliberate FIFO/LRU and is not reported.

Before:
\`\`\`elixir
if :ets.info(table, :size) >= max_size do
  evict_oldest(table)
end

:ets.insert(table, {key, value, expiry})
\`\`\`
After:
\`\`\`elixir
if :ets.info(table, :size) >= max_size and not :ets.member(table, key) do
  evict_oldest(table)
end

:ets.insert(table, {key, value, expiry})
\`\`\`
`,

  detect({ file, project }) {
    if (!file.text.includes(':ets.first')) return [];
    const out: Finding[] = [];
    for (const mod of file.modules)
      for (const ev of evictions(project, mod)) {
        const tables = ev.first.tables;
        const tableText = tables.length ? tables.map(tableLabel).join(', ') : `\`${ev.first.refText}\``;
        const type = tables.length ? `a :${[...new Set(tables.map((t) => t.type))].join('/')} table` : 'table type unknown';
        const via = ev.evictor === ev.clause.fn ? '' : ` (in ${ev.evictor.name}/${ev.evictor.arity})`;
        // Without an insert right after the check (or with a member guard), only the victim choice is in question.
        if (ev.memberGuard || !ev.insert) {
          const why = ev.memberGuard
            ? 'Updates do not evict (the :ets.member guard).'
            : 'No insert follows the size check here, so whether updates evict cannot be told.';
          out.push(
            finding(rule, file.path, {
              node: ev.first.site.node,
              key: `${fnLabel(ev.clause.fn)}:victim:${ev.first.refText}`,
              fixable: false,
              severity: 'info',
              message: `Eviction picks :ets.first/1${via} of ${tableText} (${type}): an arbitrary entry, not the least recently used. ${why} For a real LRU see \`otpfix explain ${rule.id}\`.`,
            }),
          );
          continue;
        }
        const plan = planFix(file, ev);
        const insertText = ev.insert ? ` before the insert at line ${ev.insert.site.node.startPosition.row + 1}` : '';
        out.push(
          finding(rule, file.path, {
            node: ev.guard,
            key: `${fnLabel(ev.clause.fn)}:evict:${ev.first.refText}`,
            fixable: !!plan.edits,
            message:
              `When ${tableText} (${type}) is full, this evicts :ets.first/1${via}${insertText} even when the key being written is already cached: ` +
              'an update shrinks the cache and may evict a hot entry or the key itself, and the victim is arbitrary (hash order, not age or use). ' +
              (plan.edits
                ? 'Evict only for new keys (`not :ets.member(table, key)`); for a real LRU see the explanation.'
                : `Guard the eviction with :ets.member/2 on the new key by hand. Not rewritten: ${plan.skip}.`),
            data: plan,
          }),
        );
      }
    return out;
  },

  fix(f) {
    const plan = f.data as Plan;
    return plan.edits ? { edits: plan.edits } : { skip: plan.skip ?? 'no rewrite' };
  },
};

export default rule;

/** `:ets.first(t)` whose key is then deleted from `t`: the eviction step of a function. */
function evictionStep(project: ProjectIndex, fn: FunctionDef): EtsSite | undefined {
  const sites = moduleSites(project, fn.module).filter((s) => s.fn === fn);
  for (const first of sites) {
    if (first.op !== 'first' || first.site.spawned || !first.clause.body) continue;
    const taint = new Taint(first.site.node, first.clause.body);
    const deletes = sites.filter((s) => s.clause === first.clause && s.op === 'delete' && s.site.arity === 2 && s.refText === first.refText);
    if (deletes.some((d) => d.site.args[1] && taint.feeds(d.site.args[1]))) return first;
  }
  return undefined;
}

/** The eviction step reached from a call site: directly in the clause or through local helpers (2 hops). */
function evictionUnder(project: ProjectIndex, node: SyntaxNode, clause: Clause, mod: ModuleDef): { first: EtsSite; evictor: FunctionDef } | undefined {
  const own = evictionStep(project, clause.fn);
  if (own && isInside(own.site.node, node)) return { first: own, evictor: clause.fn };
  for (const call of clause.calls) {
    if (!isInside(call.node, node) || call.capture) continue;
    const target = localTarget(call, mod);
    if (!target || target === clause.fn) continue;
    const step = evictionStep(project, target);
    if (step) return { first: step, evictor: target };
    for (const c of target.clauses)
      for (const inner of c.calls) {
        const t2 = localTarget(inner, mod);
        const s2 = t2 && t2 !== target ? evictionStep(project, t2) : undefined;
        if (s2) return { first: s2, evictor: t2! };
      }
  }
  return undefined;
}

function evictions(project: ProjectIndex, mod: ModuleDef): Eviction[] {
  const out: Eviction[] = [];
  for (const fn of uniqueFunctions(mod))
    for (const clause of fn.clauses) {
      if (!clause.body) continue;
      for (const node of descendants(clause.body, ['call'])) {
        const kind = callIdentifier(node);
        if (kind !== 'if' && kind !== 'unless' && kind !== 'cond') continue;
        const condition = kind === 'cond' ? undefined : callArguments(node)[0];
        if (!condition) continue;
        const size = sizeCheck(condition);
        if (!size) continue;
        const found = evictionUnder(project, node, clause, mod);
        if (!found || !sameTable(found.first, size, clause)) continue;
        // An ordered_set keyed by time is ordered oldest first: a deliberate FIFO/LRU.
        if (found.first.tables.length && found.first.tables.every((t) => t.type === 'ordered_set')) continue;
        const insert = moduleSites(project, mod).find(
          (s) => s.clause === clause && s.op === 'insert' && s.site.node.startIndex > node.endIndex && s.refText === found.first.refText,
        );
        const record = insert?.site.args[1];
        const key = record?.type === 'tuple' ? codeChildren(record)[0] : undefined;
        const memberGuard = [...descendants(condition, ['call'])].some((n) => /^:ets\.member$/.test(n.childForFieldName('target')?.text ?? ''));
        out.push({ clause, guard: node, condition, first: found.first, evictor: found.evictor, insert, key, memberGuard });
      }
    }
  return out;
}

/** The table expression of an `:ets.info(t, :size)` (or `:ets.info(t)[:size]`, `Keyword.get(:ets.info(t), :size)`) in a condition. */
function sizeCheck(condition: SyntaxNode): SyntaxNode | undefined {
  for (const n of descendants(condition, ['call'])) {
    if (n.childForFieldName('target')?.text !== ':ets.info') continue;
    const args = callArguments(n);
    if (args.length === 2 && args[1].text === ':size') return args[0];
    if (args.length === 1 && /:size\b/.test(n.parent?.parent?.text ?? '')) return args[0];
  }
  return undefined;
}

function sameTable(first: EtsSite, sizeTable: SyntaxNode, clause: Clause): boolean {
  if (first.clause === clause) return first.refText === sizeTable.text;
  // The evictor is a helper: it receives the table from this clause or names it the same way.
  return first.refText === sizeTable.text || first.origin !== 'resolved' || first.named === sizeTable.text.replace(/^:/, '');
}

/** Append `and not :ets.member(table, key)` to the size condition. */
function planFix(file: FileModel, ev: Eviction): Plan {
  if (!ev.insert || !ev.key) return { skip: 'no insert of a `{key, ...}` tuple follows the size check' };
  if (callIdentifier(ev.guard) === 'unless') return { skip: 'the size check is an `unless`' };
  const table = ev.insert.site.args[0];
  if (!table) return { skip: 'unexpected insert' };
  if (ev.condition.text.includes('\n')) return { skip: 'the condition spans several lines' };
  const op = binaryOperator(ev.condition);
  const needsParens = op === 'or' || op === '||' || op === '&&' || op === '|>' || op === 'when';
  const member = `not :ets.member(${table.text}, ${ev.key.text})`;
  const text = file.text;
  const lineStartAt = lineStart(text, ev.condition.startIndex);
  const lineEndAt = text.indexOf('\n', ev.condition.endIndex);
  const tail = text.slice(ev.condition.endIndex, lineEndAt === -1 ? text.length : lineEndAt);
  const head = text.slice(lineStartAt, ev.condition.startIndex);
  const cond = needsParens ? `(${ev.condition.text})` : ev.condition.text;
  const oneLine = `${head}${cond} and ${member}${tail}`;
  const edits: Edit[] = [];
  if (needsParens) edits.push({ file: file.path, start: ev.condition.startIndex, end: ev.condition.startIndex, text: '(' });
  if (displayWidth(oneLine) <= LINE_LENGTH) {
    edits.push({ file: file.path, start: ev.condition.endIndex, end: ev.condition.endIndex, text: `${needsParens ? ')' : ''} and ${member}` });
    return { edits };
  }
  // The formatter breaks a long `if a and b do` before the last operand, indented under the condition.
  const isBlock = tail.trim() === 'do';
  const indent = indentAt(text, ev.guard.startIndex) + ' '.repeat(5);
  if (!isBlock || keywordPairs(callArguments(ev.guard)[1])) return { skip: 'the condition would not fit on its line' };
  if (displayWidth(`${head}${cond} and`) > LINE_LENGTH || displayWidth(`${indent}${member} do`) > LINE_LENGTH)
    return { skip: 'the condition would not fit in two lines' };
  edits.push({ file: file.path, start: ev.condition.endIndex, end: ev.condition.endIndex, text: `${needsParens ? ')' : ''} and\n${indent}${member}` });
  return { edits };
}
