import { finding, fnLabel } from '../core/findings.js';
import { checkThenActs, type CheckThenAct, type Idiom } from '../core/model/ets-checks.js';
import type { EtsTable } from '../core/model/ets.js';
import {
  describeWriters,
  isMany,
  describeProcs,
  sameProc,
  siteProcesses,
  tableLabel,
  writersOf,
  type Proc,
  type Writer,
} from '../core/model/ets-process.js';
import { patternVars, stabHead, valueDiscarded } from '../core/model/dataflow.js';
import { uniqueFunctions, type FileModel } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import type { SyntaxNode } from '../core/parse.js';
import { binaryOperator, callArguments, callIdentifier, codeChildren, descendants, doBlock, indentAt, lineStart } from '../core/query.js';
import { displayWidth, LINE_LENGTH, removeStatement, replaceNode } from '../core/rewrite.js';
import type { Edit, Finding, Severity, Transform } from '../core/types.js';

type Options = Record<string, never>;

const SEVERITY: Record<Idiom, Severity> = {
  counter: 'high',
  'read-modify-write': 'medium',
  'ttl-delete': 'medium',
  'insert-if-absent': 'medium',
  'read-then-delete': 'medium',
  'update-if-present': 'low',
  'size-check': 'low',
};

const LOWER: Record<Severity, Severity> = { high: 'medium', medium: 'low', low: 'info', info: 'info' };

interface Plan {
  edits?: Edit[];
  skip?: string;
  note?: string;
}

const rule: Transform<Options> = {
  id: 'ets-check-then-act',
  title: 'ETS check-then-act race between processes',
  severity: 'high',
  seedRef: '1.1, 1.2',
  fixSafety: 'review',
  options: {},
  explanation: `
An ETS read followed by a write that depends on it (\`lookup\` → compare → \`insert\`,
\`member\` → \`insert\`, \`lookup\` → expired? → \`delete\`) is two operations, not one. Each is
atomic; the pair is not. When several processes write the table — it is \`:public\` and the code
runs in the callers of an API function, or writers live in different processes — another process
can write between the read and the write:

- **counter**: two callers both read 9 under a limit of 10 and both are admitted (over-admission);
  two \`insert(t, {k, n + 1})\` lose an increment.
- **TTL expire-then-delete**: a caller sees an expired record and deletes the key, but another
  process has just stored a fresh value under it: the fresh value is deleted.
- **insert-if-absent**: two callers both see no entry and both insert; the later one overwrites the
  earlier (last writer wins, a registration is silently replaced).

The same code in the owning GenServer's callbacks on a \`:protected\`/\`:private\` table is not a
race: only the owner can write, one message at a time. otpfix checks who runs the code (callers of a
public function, the server process, a spawned task) and who else writes the table, and says so.

**Fixes** (review them: they change what is stored in edge cases):
- counter → one \`:ets.update_counter(table, key, incr, default)\`, deciding on the returned value.
  Every caller gets a distinct count, so at most \`limit\` are admitted. Denied hits are counted too.
- TTL → \`:ets.delete_object(table, record)\` deletes only the exact stale record that was read; a
  newer record under the same key survives. (\`:ets.select_delete/2\` with a guard on the expiry does the
  same for a sweep.)
- insert-if-absent → \`:ets.insert_new/2\`: the first writer wins, nobody overwrites.

Other shapes are reported without a rewrite: read-modify-write of a computed value (serialize it in
the owner, or compare-and-swap with \`:ets.select_replace/2\`), update-if-present (\`:ets.update_element/3\`
fails cleanly when the key is gone), read-then-delete (\`:ets.take/2\` reads and deletes at once),
size check then insert (the bound can be exceeded by the number of concurrent writers).

Before:
\`\`\`elixir
def hit(key, limit) do
  count =
    case :ets.lookup(:buckets, key) do
      [{^key, n}] -> n
      [] -> 0
    end

  if count < limit do
    :ets.update_counter(:buckets, key, 1, {key, 0})
    :ok
  else
    {:error, :rate_limited}
  end
end
\`\`\`
After:
\`\`\`elixir
def hit(key, limit) do
  count = :ets.update_counter(:buckets, key, 1, {key, 0}) - 1

  if count < limit do
    :ok
  else
    {:error, :rate_limited}
  end
end
\`\`\`
`,

  detect({ file, project }) {
    const out: Finding[] = [];
    for (const mod of file.modules)
      for (const fn of uniqueFunctions(mod))
        fn.clauses.forEach((clause, clauseIndex) => {
          const seen = new Map<string, number>();
          for (const cta of checkThenActs(project, clause)) {
            const verdict = judge(project, cta);
            if (!verdict) continue;
            const tableKey = cta.write.sites[0].named ?? cta.write.sites[0].refText;
            const base = `${fnLabel(fn)}#${clauseIndex}:${cta.idiom}:${tableKey}`;
            const n = seen.get(base) ?? 0;
            seen.set(base, n + 1);
            const plan = planFix(file, cta);
            out.push(
              finding(rule, file.path, {
                node: cta.write.node,
                key: `${base}:${n}`,
                fixable: !!plan.edits,
                severity: verdict.unresolved ? LOWER[SEVERITY[cta.idiom]] : SEVERITY[cta.idiom],
                message: message(cta, verdict, plan),
                data: plan,
              }),
            );
          }
        });
    return out;
  },

  fix(f) {
    const plan = f.data as Plan;
    if (!plan.edits) return { skip: plan.skip ?? 'no rewrite for this shape' };
    return { edits: plan.edits, notes: plan.note ? [plan.note] : [] };
  },
};

export default rule;

// ---------------------------------------------------------------------------------------------
// Is it a race? Who runs this code, what is the table, who else writes it.

interface Verdict {
  here: Proc[];
  tables: EtsTable[];
  writers: Writer[];
  unresolved: boolean;
}

function judge(project: ProjectIndex, cta: CheckThenAct): Verdict | undefined {
  const fn = cta.clause.fn;
  const here = siteProcesses(project, fn, cta.write.call);
  if (!here.length) return undefined;
  const tables = [...new Set(cta.write.sites.flatMap((s) => s.tables))];
  if (tables.length) {
    const shared = tables.filter((t) => t.access === 'public');
    // Only the owner writes a :protected/:private table: its check and act are serialized.
    if (!shared.length) return undefined;
    const writers = shared.flatMap((t) => writersOf(project, t));
    const elsewhere = writers.some((w) => w.procs.some((p) => !here.some((h) => sameProc(h, p))));
    if (!isMany(here) && !elsewhere) return undefined;
    return { here, tables: shared, writers, unresolved: false };
  }
  // Unknown table: only code that many processes run is a race by itself, and only when the table
  // is handed in by the caller or named (a table from an opaque call may well be private to one process).
  if (!isMany(here)) return undefined;
  if (cta.write.sites.every((s) => s.origin === 'opaque')) return undefined;
  return { here, tables: [], writers: [], unresolved: true };
}

const IDIOM_TEXT: Record<Idiom, string> = {
  counter:
    'the count is read, compared and then written in separate steps, so concurrent callers can all read the same count and all be admitted (or lose increments)',
  'read-modify-write':
    'the new value is computed from a value read earlier; a write by another process in between is overwritten (lost update)',
  'ttl-delete':
    'the key is deleted after seeing an expired record; if another process stored a fresh value under the key in between, the fresh value is deleted',
  'insert-if-absent':
    'the insert runs when the read found nothing; two processes can both find nothing and both insert, the later overwriting the earlier',
  'update-if-present':
    'the write runs because the key was present; if another process deleted it in between, the write re-creates it',
  'read-then-delete':
    'the record is read and then its key deleted; two processes can both read it (double consumption) or delete a newer record',
  'size-check':
    'the size is checked before inserting; concurrent inserts all pass the check, so the table can exceed its bound by the number of concurrent writers',
};

const IDIOM_ADVICE: Record<Idiom, string> = {
  counter: 'Use one :ets.update_counter/4 with a default and decide on the returned count.',
  'read-modify-write': 'Serialize the update in the owning process, or compare-and-swap with :ets.select_replace/2 on the record that was read.',
  'ttl-delete': 'Delete the exact stale record with :ets.delete_object/2 (or a select_delete guarded on the expiry).',
  'insert-if-absent': 'Use :ets.insert_new/2 so the first writer wins.',
  'update-if-present': 'Use :ets.update_element/3, which does nothing when the key is gone.',
  'read-then-delete': 'Use :ets.take/2 to read and delete in one step.',
  'size-check': 'If the bound must hold exactly, serialize inserts in the owner; otherwise accept the overshoot.',
};

function message(cta: CheckThenAct, v: Verdict, plan: Plan): string {
  const check = actText(cta.check);
  const write = actText(cta.write);
  const line = (n: SyntaxNode) => n.startPosition.row + 1;
  const runs = describeProcs(v.here);
  let evidence: string;
  if (v.unresolved) {
    const ref = cta.write.sites[0].named ? `:${cta.write.sites[0].named}` : `\`${cta.write.sites[0].refText}\``;
    evidence = `runs in ${runs}; the table (${ref}) is not created in the scanned code, so its access is unknown: this is a race when it is :public and written concurrently (writing it from callers at all needs :public)`;
  } else {
    const names = v.tables.map(tableLabel).join(', ');
    evidence = `runs in ${runs}; ${names} is :public and written by ${describeWriters(v.writers)}`;
  }
  let text = `Check-then-act on ETS (${cta.idiom}): ${check} (line ${line(cta.check.node)}) then ${write} (line ${line(cta.write.node)}): ${IDIOM_TEXT[cta.idiom]}. Evidence: ${evidence}. ${IDIOM_ADVICE[cta.idiom]}`;
  if (cta.idiom === 'insert-if-absent') text += ' (Harmless only when every process would insert an equal value, as when memoizing a pure function.)';
  if (!plan.edits && plan.skip) text += ` Not rewritten: ${plan.skip}.`;
  return text;
}

function actText(act: CheckThenAct['check']): string {
  const op = `:ets.${act.op}`;
  return act.via ? `${act.via.name}/${act.via.arity} (${op})` : op;
}

// ---------------------------------------------------------------------------------------------
// Fixes

function planFix(file: FileModel, cta: CheckThenAct): Plan {
  switch (cta.idiom) {
    case 'counter':
      return counterFix(file, cta);
    case 'ttl-delete':
      return ttlFix(file, cta);
    case 'insert-if-absent':
      return insertNewFix(file, cta);
    default:
      return {};
  }
}

/** `:ets.lookup(t, k)` (or `t |> :ets.lookup(k)`) as a `case` subject (the case possibly bound: `count = case ... end`). */
function lookupCase(cta: CheckThenAct): SyntaxNode | undefined {
  const check = cta.check;
  if (check.via || check.op !== 'lookup') return undefined;
  let subject: SyntaxNode = check.node;
  const pipe = subject.parent;
  if (pipe && binaryOperator(pipe) === '|>' && pipe.childForFieldName('right')?.id === subject.id) subject = pipe;
  const args = subject.parent;
  const caseNode = args?.type === 'arguments' ? args.parent : undefined;
  if (!caseNode || callIdentifier(caseNode) !== 'case' || callArguments(caseNode)[0]?.id !== subject.id) return undefined;
  return caseNode;
}

function stabsOf(caseNode: SyntaxNode): SyntaxNode[] {
  return doBlock(caseNode)?.namedChildren.filter((c) => c.type === 'stab_clause') ?? [];
}

function stabPattern(stab: SyntaxNode): SyntaxNode | undefined {
  return stabHead(stab).pattern;
}

function stabBody(stab: SyntaxNode): SyntaxNode[] {
  const right = stab.childForFieldName('right');
  return right ? codeChildren(right) : [];
}

/**
 * `count = case :ets.lookup(t, k) do [{^k, n}] -> n; [] -> 0 end` ... `if count < limit do
 * :ets.update_counter(t, k, 1, {k, 0}) ...` → `count = :ets.update_counter(t, k, 1, {k, 0}) - 1`,
 * the later write removed. `count` keeps its meaning (the count before this hit), now atomically.
 */
function counterFix(file: FileModel, cta: CheckThenAct): Plan {
  const why = (skip: string): Plan => ({ skip });
  if (cta.check.via || cta.write.via)
    return why('the read and the write happen in helper functions; merge them into one :ets.update_counter/4 by hand');
  const caseNode = lookupCase(cta);
  if (!caseNode) return why('the count is not read by a `case :ets.lookup(...)` this rule can rewrite');
  const eq = caseNode.parent;
  const countVar = eq && binaryOperator(eq) === '=' && eq.childForFieldName('right')?.id === caseNode.id ? eq.childForFieldName('left') : undefined;
  if (!eq || countVar?.type !== 'identifier') return why('the count read is not bound to a variable (`count = case ...`)');
  const [table, key] = cta.check.call.args;
  if (!table || !key || cta.check.call.args.length !== 2) return why('unexpected :ets.lookup arguments');
  // The hit branch returns the counter element, the miss branch 0.
  let position: number | undefined;
  let tuple: SyntaxNode | undefined;
  for (const stab of stabsOf(caseNode)) {
    const pattern = stabPattern(stab);
    const body = stabBody(stab);
    if (!pattern || body.length !== 1) return why('a branch of the lookup does more than return the count');
    if (pattern.type === 'list' && codeChildren(pattern).length === 1 && codeChildren(pattern)[0].type === 'tuple') {
      tuple = codeChildren(pattern)[0];
      const items = codeChildren(tuple);
      const i = items.findIndex((x) => x.type === 'identifier' && x.text === body[0].text);
      if (i < 1) return why('the hit branch does not return an element of the record');
      position = i + 1;
    } else if ((pattern.type === 'list' && codeChildren(pattern).length === 0) || pattern.text === '_') {
      if (body[0].text !== '0') return why('the miss branch does not start the count at 0');
    } else return why('the lookup has a branch this rule cannot rewrite');
  }
  if (!position || !tuple) return why('no hit branch returning the count');
  const w = cta.write;
  if (w.via) return why('the write happens in a helper function');
  const wArgs = w.call.args;
  if (wArgs[0]?.text !== table.text) return why('the write names the table differently from the read');
  const body = cta.clause.body!;
  if (!valueDiscarded(w.node, body)) return why("the write's return value is used");
  let incr: string;
  let dflt: string;
  if (w.op === 'update_counter') {
    if (wArgs[1]?.text !== key.text) return why('the write uses a different key');
    const op = wArgs[2];
    if (!op) return why('no increment');
    if (op.type === 'integer') {
      if (position !== 2) return why('the counter is not the second element');
      incr = op.text;
    } else if (op.type === 'tuple' && codeChildren(op).length === 2 && codeChildren(op)[0].text === String(position)) {
      incr = codeChildren(op)[1].text;
    } else return why('the increment is not a plain increment');
    if (wArgs[3]) dflt = wArgs[3].text;
    else if (codeChildren(tuple).length === 2) dflt = `{${key.text}, 0}`;
    else return why('no default record for update_counter/4');
  } else if (w.op === 'insert') {
    const record = wArgs[1];
    if (record?.type !== 'tuple') return why('the inserted record is not a tuple literal');
    const items = codeChildren(record);
    const counter = items[position - 1];
    if (!counter) return why('the inserted record does not match the read record');
    const plus = binaryOperator(counter) === '+' ? counter : undefined;
    const left = plus?.childForFieldName('left');
    const right = plus?.childForFieldName('right');
    const other = left?.text === countVar.text ? right : right?.text === countVar.text ? left : undefined;
    if (!other) return why(`the new count is not \`${countVar.text} + n\``);
    incr = other.text;
    const rest = items.filter((_, i) => i !== position! - 1);
    if (rest[0]?.text !== key.text) return why('the inserted record is keyed differently');
    if (!rest.slice(1).every(isLiteral)) return why('the record carries other changing fields (update_counter would not update them)');
    dflt = `{${items.map((x, i) => (i === position! - 1 ? '0' : x.text)).join(', ')}}`;
  } else return why('unsupported write');
  const spec = position === 2 ? incr : `{${position}, ${incr}}`;
  const minus = /^[\w@.]+$/.test(incr) ? incr : `(${incr})`;
  const expr = `:ets.update_counter(${table.text}, ${key.text}, ${spec}, ${dflt}) - ${minus}`;
  const indent = indentAt(file.text, eq.startIndex);
  const oneLine = `${countVar.text} = ${expr}`;
  if (displayWidth(indent + oneLine) > LINE_LENGTH) return why('the rewritten line would not fit in 98 columns');
  const removal = removeStatement(file, w.node);
  if (!removal) return why('the write shares its line with other code');
  return {
    edits: [replaceNode(file, eq, oneLine), removal],
    note: 'Denied hits are now counted too (the count includes every attempt); `' + countVar.text + '` is still the count before this hit.',
  };
}

function isLiteral(node: SyntaxNode): boolean {
  return ['atom', 'integer', 'float', 'string', 'boolean', 'nil'].includes(node.type) && !node.namedChildren.some((c) => c.type === 'interpolation');
}

/** `[{^k, v, exp}] -> if expired?(exp) do :ets.delete(t, k) ...` → bind the record, `:ets.delete_object(t, entry)`. */
function ttlFix(file: FileModel, cta: CheckThenAct): Plan {
  const why = (skip: string): Plan => ({ skip });
  const caseNode = lookupCase(cta);
  if (!caseNode) return why('the record is not read by a `case :ets.lookup(...)`');
  const w = cta.write;
  if (w.via) return why('the delete happens in a helper function');
  const [table, key] = cta.check.call.args;
  const [wTable, wKey] = w.call.args;
  if (!wTable || !wKey || w.call.args.length !== 2 || callArguments(w.node).length !== 2) return why('unexpected :ets.delete arguments');
  if (wTable.text !== table?.text || wKey.text !== key?.text) return why('the delete names the table or key differently from the read');
  const stab = cta.guards.find((g) => g.branch === 'hit' && g.node.id === caseNode.id)?.stab;
  const pattern = stab ? stabPattern(stab) : undefined;
  if (pattern?.type !== 'list' || codeChildren(pattern).length !== 1) return why('the hit branch does not match a single record');
  const element = codeChildren(pattern)[0];
  const edits: Edit[] = [];
  let record: string | undefined;
  if (element.type === 'identifier' && !element.text.startsWith('_')) record = element.text;
  else if (binaryOperator(element) === '=') {
    const l = element.childForFieldName('left');
    const r = element.childForFieldName('right');
    record = [l, r].find((x) => x?.type === 'identifier' && !x.text.startsWith('_'))?.text;
  }
  if (!record) {
    const used = new Set(patternVars(cta.clause.body!).concat(cta.clause.params.flatMap((p) => patternVars(p))));
    for (const n of descendants(cta.clause.body!)) if (n.type === 'identifier') used.add(n.text);
    record = ['entry', 'record', 'stale_entry'].find((n) => !used.has(n));
    if (!record) return why('no free variable name to bind the record');
    const suffix = ` = ${record}`;
    const lineEndAt = file.text.indexOf('\n', element.endIndex);
    const lineText = file.text.slice(lineStart(file.text, element.startIndex), lineEndAt === -1 ? file.text.length : lineEndAt);
    if (displayWidth(lineText) + suffix.length > LINE_LENGTH) return why('the bound pattern would not fit in 98 columns');
    edits.push({ file: file.path, start: element.endIndex, end: element.endIndex, text: suffix });
  }
  const replacement = `:ets.delete_object(${wTable.text}, ${record})`;
  const line = file.text.slice(lineStart(file.text, w.node.startIndex), w.node.startIndex) + replacement;
  if (displayWidth(line) > LINE_LENGTH) return why('the rewritten delete would not fit in 98 columns');
  edits.push(replaceNode(file, w.node, replacement));
  return { edits, note: 'Only the exact record that was read is deleted; a record stored meanwhile under the same key survives.' };
}

/** `[] -> :ets.insert(t, obj)` → `:ets.insert_new(t, obj)` when the insert's result is not used. */
function insertNewFix(file: FileModel, cta: CheckThenAct): Plan {
  const w = cta.write;
  if (w.via) return { skip: 'the insert happens in a helper function' };
  if (!valueDiscarded(w.node, cta.clause.body!))
    return { skip: "the insert's result is used (insert_new returns false when another process won)" };
  const target = w.node.childForFieldName('target');
  const name = target?.childForFieldName('right');
  if (name?.text !== 'insert') return { skip: 'unexpected call shape' };
  const end = file.text.indexOf('\n', w.node.startIndex);
  const lineText = file.text.slice(lineStart(file.text, w.node.startIndex), end === -1 ? file.text.length : end);
  if (displayWidth(lineText) + 4 > LINE_LENGTH) return { skip: 'the rewritten line would not fit in 98 columns' };
  return {
    edits: [replaceNode(file, name, 'insert_new')],
    note: 'When another process inserted first, its entry is kept and this insert does nothing.',
  };
}

