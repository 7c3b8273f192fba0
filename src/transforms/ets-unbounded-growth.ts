import { finding, fnLabel, where } from '../core/findings.js';
import { describeTable, type EtsTable } from '../core/model/ets.js';
import {
  opsReaching,
  stateIsTable,
  recordsWritten,
  timedElements,
  type ElementShape,
  type ProjectOp,
  type TimedElement,
  type WrittenRecord,
} from '../core/model/ets-records.js';
import { readReach } from '../core/model/ets-retention.js';
import {
  localTarget,
  sameProcessCallees,
  uniqueFunctions,
  type Clause,
  type FunctionDef,
  type ModuleDef,
} from '../core/model/module.js';
import { moduleEts, type ProjectIndex } from '../core/model/project.js';
import { constInt, timeSignature, type Clock, type TimeUnit, type TimeValue } from '../core/model/time.js';
import type { SyntaxNode } from '../core/parse.js';
import { codeChildren, keywordPairs } from '../core/query.js';
import {
  bodyStatements,
  clauseText,
  displayWidth,
  INDENT,
  insertAt,
  handleInfoPlacement,
  insertBeforeResult,
  LINE_LENGTH,
  LOGGING_CATCH_ALL,
  memberIndent,
} from '../core/rewrite.js';
import type { Edit, Severity, Transform } from '../core/types.js';

interface Options {
  cleanupIntervalMs: number;
  retentionMs: number;
}

type NumericTime = Exclude<TimeValue, { kind: 'opaque' }>;

/** What the fix needs: where the time sits in the records and how to reach the table. */
interface Plan {
  table: EtsTable;
  /** The record's arity and the arities of the tuples on the way to the time element. */
  pattern: ElementShape & { kind: 'tuple' };
  element: TimedElement & { time: NumericTime };
  /** What readers need kept: windows back (bucket) or time units back (write time); none for an expiry. */
  retention: Retention;
  /** `@table`, `:name`, `__MODULE__` or `state.field`, as the module reaches the table. */
  tableExpr: string;
  inits: Clause[];
}

const KIND_NAMES: Record<string, string> = {
  gen_stage: 'a GenStage',
  gen_statem: 'a :gen_statem',
  supervisor: 'a supervisor',
  dynamic_supervisor: 'a dynamic supervisor',
  application: 'an application (the table belongs to the process that starts it)',
  agent: 'an Agent',
  task: 'a Task',
};
const CLEANUP_NAME = /(^|_)(clean|cleanup|clean_up|purge|expire|evict|prune|sweep|reap|gc)(_|$)/;
const SWEEPING_DELETES = new Set(['select_delete', 'match_delete', 'delete_all_objects']);
/** Calls a cleanup function may make without cleaning anything. */
const INERT_MODULES = new Set(['Logger', ':telemetry', 'IO', 'Kernel']);

const rule: Transform<Options> = {
  id: 'ets-unbounded-growth',
  title: 'ETS table written with time-stamped entries that are never deleted',
  severity: 'high',
  seedRef: '3.1',
  fixSafety: 'review',
  options: {
    cleanupIntervalMs: {
      type: 'number',
      default: 60_000,
      description: 'How often the generated cleanup runs (milliseconds): the `Process.send_after/3` delay.',
      validate: (v) => (Number.isInteger(v) && (v as number) > 0 ? undefined : 'must be a positive integer'),
    },
    retentionMs: {
      type: 'number',
      default: 0,
      description:
        'For records that carry the time they were written, when nothing in the project reads the table (its readers are elsewhere): how long to keep an entry (milliseconds). 0 (the default): not set, and such a table is reported, not rewritten. Never shortens what a reader in the project reads.',
      validate: (v) => (Number.isInteger(v) && (v as number) >= 0 ? undefined : 'must be a non-negative integer'),
    },
  },
  explanation: `
An ETS table lives as long as the process that created it, and nothing ever removes an entry but an
explicit delete. When the keys or records carry a time — a fixed-window bucket
\`div(System.system_time(:millisecond), @window_ms)\`, a write time, an expiry \`now + ttl\` — every new
window, write or key adds an entry, and entries that are expired or in a past window stay forever.
The table grows with traffic until the node runs out of memory (ETS memory is not garbage collected
and not counted in any process heap). A "cleanup" function that returns \`0\` is the same flaw.

The rule finds the table's owner (the GenServer whose \`init/1\` creates it, or a
\`handle_continue/2\` that \`init/1\` continues to), every write in the project (named tables are
global; unnamed ones are followed through the state, helper parameters and helper return values), and
the record shape each write creates: tuple arity, the position of the time (also inside a key tuple),
its clock and unit. It stays silent when anything in the project sweeps the table (\`select_delete\`,
\`match_delete\`, \`delete_all_objects\`, \`:ets.delete/1\` outside \`terminate/2\`), and when entries
are deleted by key and the time is a write time or a deadline in the key: a queue whose consumer
takes entries is bounded by that consumer. With deletes by key and an expiry in the value (a cache
that deletes an entry when it reads it expired), or a window bucket, it reports at low severity:
entries nobody asks for again still stay. A write time in the value of a \`set\` only grows with the
number of distinct keys; that is reported at low severity and not rewritten.

**The fix** schedules a cleanup in the owner: \`Process.send_after/3\` in \`init/1\`, and a new
\`handle_info/2\` clause (before any catch-all) that deletes with \`:ets.select_delete/2\` and a match spec
built from the record shape, then reschedules. It compares against the clock and unit the writes use,
and keeps what the table's readers read: an expiry is deleted once it is in the past; a window bucket
once it is older than the furthest window any reader reads (a key \`{id, window - 4}\`, a
\`for w <- (window - 4)..window\`), with one window to spare; a write time once it is older than twice
the longest look-back of its readers (a match-spec guard \`{:>, :"$1", now - @max_age}\`). A read the
rule cannot bound (\`:ets.tab2list/1\`, a select over entries of any age, a window count known only at
run time), or a write-time table nothing in the project reads (unless the \`retentionMs\` option says
how long readers elsewhere need entries), means no fix: the finding names the read. Review the interval. When the module had no \`handle_info/2\`,
the fix also adds a catch-all that logs other messages, as the default \`use GenServer\` one does, so a
stray message does not crash the server. The rule only reports (and says why) when the shape is not
certain: several record shapes, records it cannot read, a window only known at run time, a
\`DateTime\` (a match spec cannot compare structs by time), or a table not owned by a GenServer.

Before:
\`\`\`elixir
def init(_opts) do
  :ets.new(:buckets, [:set, :named_table])
  {:ok, %{}}
end

def handle_call({:hit, id}, _from, state) do
  key = {id, div(System.system_time(:millisecond), 60_000)}
  {:reply, :ets.update_counter(:buckets, key, 1, {key, 0}), state}
end
\`\`\`
After:
\`\`\`elixir
def init(_opts) do
  :ets.new(:buckets, [:set, :named_table])
  Process.send_after(self(), :purge_expired_entries, 60_000)
  {:ok, %{}}
end

# ...

def handle_info(:purge_expired_entries, state) do
  # Window buckets (element 2 of the key) older than the previous window are never read again.
  current_window = div(System.system_time(:millisecond), 60_000)
  :ets.select_delete(:buckets, [{{{:_, :"$1"}, :_}, [{:<, :"$1", current_window - 1}], [true]}])
  Process.send_after(self(), :purge_expired_entries, 60_000)
  {:noreply, state}
end

# Any other message: logged and ignored, as GenServer's default handle_info/2 does.
def handle_info(msg, state) do
  :logger.error("#{inspect(__MODULE__)} got an unexpected message: #{inspect(msg)}")
  {:noreply, state}
end
\`\`\`
`,

  detect({ file, project, options }) {
    const found = [];
    for (const mod of file.modules)
      for (const table of moduleEts(mod).tables) {
        const a = analyse(table, project, options);
        if (!a) continue;
        found.push(
          finding(rule, file.path, {
            node: table.site.node,
            key: `${mod.name}:${tableKey(table)}`,
            fixable: !!a.plan,
            severity: a.severity,
            message: a.message,
            data: a.plan,
          }),
        );
      }
    return found;
  },

  fix(f, { file, options }) {
    const plan = f.data as Plan;
    const mod = plan.table.module;
    const msg = messageAtom(mod, plan.table);
    const interval = numberText(options.cleanupIntervalMs);
    const schedule = `Process.send_after(self(), :${msg}, ${interval})`;
    const edits: Edit[] = [];
    for (const init of plan.inits) {
      const edit = insertBeforeResult(file, init, schedule);
      if (!edit) return { skip: `cannot find the result of ${fnLabel(init.fn)} to schedule the cleanup before it` };
      edits.push(edit);
    }
    const placement = handleInfoPlacement(file, mod, lastCallback(mod));
    const indent = memberIndent(file, mod);
    const body = cleanupBody(plan, options, indent.length + INDENT.length);
    if (typeof body !== 'string') return { skip: body.skip };
    let code = `def handle_info(:${msg}, state) do\n${body}\n${INDENT}${schedule}\n${INDENT}{:noreply, state}\nend`;
    if (placement.newFunction) code += `\n\n${LOGGING_CATCH_ALL}`;
    edits.push(insertAt(file, placement.offset, clauseText(code, indent, placement, mod.usesImpl)));
    const notes = [`cleanup every ${human(options.cleanupIntervalMs)} (option cleanupIntervalMs)`];
    if (placement.newFunction) notes.push('adds a catch-all handle_info/2 that logs other messages, as the default one did');
    const r = plan.retention;
    if (r.kind === 'windows')
      notes.push(`keeps the ${r.back + 1} window${r.back ? 's' : ''} ${r.readers.length ? `its readers read (${r.readers.join('; ')})` : 'it writes'} and one more`);
    if (r.kind === 'units')
      notes.push(
        `deletes entries older than twice ${r.fromOption ? `${human(options.retentionMs)} (option retentionMs; nothing in the project reads the table)` : `the longest look-back of its readers (${r.readers.join('; ')})`}`,
      );
    return { edits, notes };
  },
};

export default rule;

interface Analysis {
  severity: Severity;
  message: string;
  plan?: Plan;
}

function tableKey(table: EtsTable): string {
  if (table.named && table.name) return `:${table.name}`;
  if (table.field) return `state.${table.field}`;
  const index = moduleEts(table.module).tables.filter((t) => t.fn === table.fn).indexOf(table);
  return `${table.fn.name}/${table.fn.arity}#${index}`;
}

function label(op: ProjectOp): string {
  return `${op.module.name}.${op.clause.fn.name}/${op.clause.fn.arity} at ${where(op.module.file.relPath, op.site.node)}`;
}

/** `:rate_buckets`, `MyApp.Cache` (a module-named table), or how the state reaches it. */
function tableName(table: EtsTable): string {
  if (table.named && table.name) return /^[A-Z]/.test(table.name) ? `the table ${table.name}` : `:${table.name}`;
  return describeTable(table);
}

function analyse(table: EtsTable, project: ProjectIndex, options: Options): Analysis | undefined {
  const { ops, unresolved } = opsReaching(project, table);
  // Dropping the whole table in terminate/2 frees it at shutdown, not while it grows.
  const deletes = [...ops, ...unresolved.filter((op) => mayReach(op, table, ops))].filter(
    (op) => op.kind === 'delete' && !onShutdown(op),
  );
  if (deletes.some((op) => SWEEPING_DELETES.has(op.op) || (op.op === 'delete' && op.site.arity === 1))) return undefined;
  const keyedDeletes = deletes.filter((op) => ops.includes(op));
  const maybeKeyed = deletes.filter((op) => !ops.includes(op));

  // The records every creating write produces.
  const records: WrittenRecord[] = [];
  const unreadable: string[] = [];
  // A module that creates a single table most likely writes that one where the model cannot follow
  // the table id (a dynamic name from the options, a parameter of a public function): counted, as an
  // assumption the message states.
  const sole = moduleEts(table.module).tables.length === 1;
  const assumed = new Set(sole ? unresolved.filter((op) => op.module === table.module && op.kind === 'write') : []);
  for (const op of [...ops.filter((o) => o.kind === 'write'), ...assumed]) {
    const read = recordsWritten(op, project);
    if (!read) continue;
    if ('unreadable' in read) unreadable.push(`${label(op)}: ${read.unreadable}`);
    else records.push(...read.records);
  }
  const keyIndex = keyPosition(table);
  const picks = records.map((r) => ({ record: r, ...pickTime(timedElements(r.shape), keyIndex ?? 0) }));
  const timed = picks.filter((p) => p.pick);
  if (!timed.length) return undefined;
  const first = timed[0];
  const element = first.pick!;
  const inKey = element.path[0] === (keyIndex ?? 0);
  const bag = table.type === 'bag' || table.type === 'duplicate_bag';
  const time = element.time;

  // With deletes by key, a written-at time is bounded by whoever deletes (a job queue keyed by
  // {time, ref}, a last-seen entry removed on sign-out), and so is a deadline in the key (a timer
  // queue whose consumer takes due entries): stay silent. An expiry in the value (a cache that
  // deletes an entry when it reads it expired) or a window bucket still leaves entries nobody reads.
  const keyed = keyedDeletes.length + maybeKeyed.length > 0;
  if (keyed && (time.kind === 'at' || (time.kind === 'expiry' && inKey) || time.kind === 'opaque')) return undefined;

  const deadline = time.kind === 'expiry' || (time.kind === 'opaque' && !!time.deadline);
  let severity: Severity = inKey || bag ? 'high' : deadline ? 'medium' : 'low';
  const reasons: string[] = [];
  if (time.kind !== 'opaque' && time.kind !== 'expiry' && !inKey && !bag)
    reasons.push(
      time.kind === 'bucket'
        ? 'the window bucket is outside the key, so it is not clear which entries are stale'
        : 'the time is the write time of a value, not part of the key: each key holds one entry, so the table grows only with the number of distinct keys; add a cleanup if that number is unbounded',
    );
  if (keyed) severity = 'low';
  const onlyAssumed = timed.every((t) => assumed.has(t.record.op));
  if (onlyAssumed) severity = severity === 'high' ? 'medium' : 'low';

  const writers = [...new Set(timed.map((t) => label(t.record.op)))];
  const growth = severity === 'low' ? 'may grow without bound' : 'grows without bound';
  let message = `${capital(tableName(table))} ${growth}: ${evidence(element, inKey, bag, table, writers, keyIndex ?? 0)}, and ${
    keyed
      ? `entries are only deleted by key (${[...keyedDeletes, ...maybeKeyed].map(label).join('; ')}), so ${isDeadline(time) ? 'expired ' : ''}entries nobody reads again stay`
      : `nothing in the project deletes from it${isDeadline(time) ? ', so expired entries stay forever' : ''}`
  }.`;

  if (onlyAssumed) {
    const ref = timed[0].record.op.site.args[0];
    message += ` (Assuming \`${ref?.text}\` there is this table: it is the only table ${table.module.name} creates.)`;
  }

  // Why it cannot be rewritten, most fundamental first.
  if (time.kind === 'opaque') reasons.push(`the time \`${element.node.text}\` ${time.why}`);
  if (keyIndex === undefined) reasons.push('the table sets a :keypos the rule cannot read');
  const owner = ownerOf(table);
  if ('why' in owner) reasons.push(owner.why);
  else message += ` ${fnLabel(table.fn)} creates it, so the ${table.module.name} process owns it and can purge it on a timer.`;
  if (unreadable.length) reasons.push(`the records written by ${unreadable.join('; ')}`);
  const shapes = new Set(timed.map((t) => `${t.record.shape.items.length}:${t.pick!.path.join('.')}:${timeSignature(t.pick!.time)}`));
  if (shapes.size > 1)
    reasons.push(
      `the table holds several record shapes with a time (${timed
        .map((t) => `\`${oneLine(t.record.node.text)}\` at ${where(t.record.op.module.file.relPath, t.record.node)}`)
        .join(', ')})`,
    );
  const tie = timed.find((t) => t.tied);
  if (tie)
    reasons.push(
      `\`${oneLine(tie.record.node.text)}\` carries two times of the same kind (${placeOf(tie.pick!.path, keyIndex ?? 0)} and ${placeOf(tie.tied!.path, keyIndex ?? 0)}), and the rule cannot tell which one ends an entry's life`,
    );
  const clash = picks.find((p) => !p.pick && !safeFromPattern(p.record.shape, first.record.shape, element.path));
  if (clash)
    reasons.push(
      `\`${oneLine(clash.record.node.text)}\` (${where(clash.record.op.module.file.relPath, clash.record.node)}) has the same shape without a time, and a match spec could delete it`,
    );
  if (time.kind === 'bucket' && time.window.runtime) reasons.push(`${time.window.runtime}, so a cleanup cannot compute the current window`);
  if (time.kind === 'bucket' && !time.window.runtime && time.window.value === undefined && time.window.clause.fn.module !== table.module)
    reasons.push(`the window \`${time.window.node.text}\` is an attribute of ${time.window.clause.fn.module.name}`);
  const tableExpr = tableExpression(table);
  if (!tableExpr) reasons.push('the table id is not kept in a named table or a state field the cleanup can read');

  let retention: Retention | undefined;
  if (!reasons.length) {
    const reads = [...ops, ...unresolved.filter((op) => mayReach(op, table, ops))].filter((op) => op.kind === 'read');
    const r = retentionFor(element as Plan['element'], reads, keyIndex ?? 0, project, options, table.module);
    if ('why' in r) reasons.push(r.why);
    else retention = r;
  }

  for (const fn of noopCleanups(table, ops)) message += ` ${fnLabel(fn)} looks like a cleanup but never deletes anything${literalBody(fn)}.`;
  if (reasons.length) return { severity, message: `${message} Not rewritten: ${reasons[0]}.` };
  const plan: Plan = {
    table,
    pattern: first.record.shape,
    element: element as Plan['element'],
    retention: retention!,
    tableExpr: tableExpr!,
    inits: (owner as { inits: Clause[] }).inits,
  };
  return { severity, message, plan };
}

type Retention =
  | { kind: 'expiry' }
  /** Readers read `back` windows before the current one. */
  | { kind: 'windows'; back: number; readers: string[] }
  /** Readers read entries up to `back` units (of the record's time) old. */
  | { kind: 'units'; back: number; readers: string[]; fromOption: boolean; attr?: string };

/**
 * How much the cleanup must keep, from how the table is read: an expiry says itself when an entry
 * ends; window buckets and write times are kept as far back as the furthest reader reads. A read the
 * rule cannot bound makes it refuse: a cleanup is never generated from a guess.
 */
function retentionFor(
  element: Plan['element'],
  reads: ProjectOp[],
  keyIndex: number,
  project: ProjectIndex,
  options: Options,
  owner: ModuleDef,
): Retention | { why: string } {
  const t = element.time;
  if (t.kind === 'expiry') return { kind: 'expiry' };
  const reaches = reads.map((op) => readReach(op, t, element.path, keyIndex, project));
  const unknown = reaches.find((r) => 'unknown' in r);
  const what = t.kind === 'bucket' ? 'how many windows its readers need' : 'how old an entry its readers still need';
  if (unknown && 'unknown' in unknown)
    return {
      why: `${label(unknown.op)} reads the table, and ${unknown.unknown}, so the rule cannot tell ${what}; delete old entries by hand, keeping at least what the longest reader reads`,
    };
  const known = reaches as Array<Extract<(typeof reaches)[number], { back: number }>>;
  const back = Math.max(0, ...known.map((r) => r.back));
  const deciding = known.filter((r) => r.back === back && back > 0).map((r) => label(r.op));
  if (t.kind === 'bucket') return { kind: 'windows', back, readers: deciding };
  if (t.unit === 'native') return { why: 'the write time is in native units, so a retention cannot be written as a constant' };
  const optionUnits = options.retentionMs > 0 ? Math.ceil(options.retentionMs / MS_PER_UNIT[t.unit]) : 0;
  if (!known.length) {
    if (!optionUnits)
      return {
        why: 'nothing in the project reads the table, so how long an entry is needed cannot be derived from the code; set the option retentionMs if its readers are elsewhere, or delete entries by hand where their lifetime is known',
      };
    return { kind: 'units', back: optionUnits, readers: [], fromOption: true };
  }
  if (back === 0) return { why: `its readers (${known.map((r) => label(r.op)).join('; ')}) read only entries written now, which is not a retention to keep; delete entries by hand where their lifetime is known` };
  // The reader's own attribute (`@period_ms`) when every deciding read uses it in the owner module.
  const attrs = new Set(known.filter((r) => r.back === back).map((r) => (r.attr && r.attr.module === owner ? r.attr.text : '')));
  const attr = attrs.size === 1 && !attrs.has('') && back >= optionUnits ? [...attrs][0] : undefined;
  return { kind: 'units', back: Math.max(back, optionUnits), readers: deciding, fromOption: false, attr };
}

function onShutdown(op: ProjectOp): boolean {
  return op.clause.fn.name === 'terminate' && op.clause.fn.arity === 2;
}

/** An unresolved operation that could reach the table: in its module, or one that also uses it. */
function mayReach(op: ProjectOp, table: EtsTable, ops: ProjectOp[]): boolean {
  return op.module === table.module || ops.some((o) => o.module === op.module);
}

/** The 0-based position of the key (`:keypos` option), undefined when it cannot be read. */
function keyPosition(table: EtsTable): number | undefined {
  const opts = table.site.args[1];
  if (opts?.type !== 'list') return 0;
  for (const item of codeChildren(opts)) {
    const pairs = item.type === 'keywords' ? keywordPairs(item) : undefined;
    const keypos = pairs?.find((p) => p.key === 'keypos');
    if (keypos) {
      const n = constInt(keypos.value, table.module);
      return n === undefined ? undefined : n - 1;
    }
    if (item.type === 'tuple' && codeChildren(item)[0]?.text === ':keypos') {
      const n = constInt(codeChildren(item)[1], table.module);
      return n === undefined ? undefined : n - 1;
    }
  }
  return 0;
}

/** The time element that decides when a record is stale: an expiry first, then a time in the key. */
function pickTime(elements: TimedElement[], keyIndex: number): { pick?: TimedElement; tied?: TimedElement } {
  const rank = (e: TimedElement): number => {
    const inKey = e.path[0] === keyIndex;
    if (isDeadline(e.time)) return 0;
    if (e.time.kind === 'bucket' && inKey) return 1;
    if (e.time.kind === 'at' && inKey) return 2;
    if (e.time.kind === 'opaque') return 3;
    return e.time.kind === 'at' ? 4 : 5;
  };
  const sorted = [...elements].sort((a, b) => rank(a) - rank(b));
  const [pick, next] = sorted;
  return { pick, tied: next && rank(next) === rank(pick) ? next : undefined };
}

function evidence(element: TimedElement, inKey: boolean, bag: boolean, table: EtsTable, writers: string[], keyIndex: number): string {
  const what = `\`${element.node.text}\`${describeTime(element.time, element.node)}`;
  const by = `written by ${writers.join(', ')}`;
  const place = placeOf(element.path, keyIndex);
  if (isDeadline(element.time)) return `its records carry an expiry time, ${what} (${place}; ${by})`;
  if (element.time.kind === 'bucket') return `its keys hold a time window, ${what} (${place}), so every window adds new entries (${by})`;
  if (inKey) return `its keys hold a time, ${what} (${place}), so every write adds an entry (${by})`;
  if (bag) return `it is a ${table.type} and every write adds a record stamped with ${what} (${place}; ${by})`;
  return `its records carry a time, ${what} (${place}; ${by})`;
}

function isDeadline(t: TimeValue): boolean {
  return t.kind === 'expiry' || (t.kind === 'opaque' && !!t.deadline);
}

function describeTime(t: TimeValue, node: SyntaxNode): string {
  const clock = t.clockNode.text;
  let text: string;
  if (t.kind === 'bucket') text = `div(${clock}, ${t.window.node.text})`;
  else if (t.kind === 'expiry' || (t.kind === 'opaque' && t.deadline)) text = `${clock} + ...`;
  else text = clock;
  // Spell out where a variable's time comes from; an expression says it itself.
  return node.type === 'identifier' ? ` = ${text}` : '';
}

/** `element 3`, `element 2 of the key`. */
function placeOf(path: number[], keyIndex: number): string {
  const [top, ...rest] = path;
  const head = top === keyIndex ? 'the key' : `element ${top + 1}`;
  if (!rest.length) return top === keyIndex ? 'the key' : `element ${top + 1} of the record`;
  return `${rest.map((i) => `element ${i + 1}`).reverse().join(' of ')} of ${head}`;
}

/** Whether the process that runs `init/1` of a GenServer creates the table, and which init clauses do. */
function ownerOf(table: EtsTable): { inits: Clause[] } | { why: string } {
  const mod = table.module;
  const fn = table.fn;
  if (table.site.spawned) return { why: `the table is created inside a function run by another process (in ${fnLabel(fn)})` };
  if (!mod.kinds.has('genserver')) {
    const kind = [...mod.kinds][0];
    return {
      why: kind
        ? `${mod.name} is ${KIND_NAMES[kind]}, not a GenServer: clean the table by hand in the process that owns it`
        : `the table is created in ${fnLabel(fn)} of a module that is not a GenServer, so it belongs to whichever process calls it; move the table into a GenServer or clean it where it is owned`,
    };
  }
  if (fn.context !== 'server')
    return {
      why: `${fnLabel(fn)} runs in the ${fn.context === 'both' ? 'server and in callers' : "caller's process (for start_link, the supervisor)"}, so the GenServer may not own the table`,
    };
  const init = mod.functions.get('init/1');
  let inits = init?.clauses.filter((c) => c === table.clause || reaches(c, fn)) ?? [];
  // Created in handle_continue/2, which runs before any message once init/1 returns {:continue, _}.
  const continues = mod.functions.get('handle_continue/2')?.clauses.some((c) => c === table.clause || reaches(c, fn));
  if (!inits.length && continues) inits = init?.clauses.filter((c) => /\{:continue,/.test(c.node.text)) ?? [];
  if (!inits.length)
    return { why: `the table is created in ${fnLabel(fn)}, not during init/1, so a cleanup scheduled in init/1 could run before it exists` };
  return { inits };
}

/** Whether a clause calls `target`, directly or through local helpers in the same process. */
function reaches(clause: Clause, target: FunctionDef): boolean {
  const seen = new Set<FunctionDef>();
  const queue: FunctionDef[] = [];
  for (const site of clause.calls) {
    if (site.spawned) continue;
    const f = localTarget(site, clause.fn.module);
    // init/1 delegating to another init/1 clause: that clause schedules the cleanup itself.
    if (f && f !== clause.fn) queue.push(f);
  }
  while (queue.length) {
    const f = queue.pop()!;
    if (f === target) return true;
    if (seen.has(f)) continue;
    seen.add(f);
    queue.push(...sameProcessCallees(f));
  }
  return false;
}

/** How the owner's code names the table: the name it was created with, or the state field. */
function tableExpression(table: EtsTable): string | undefined {
  const nameNode = table.site.args[0];
  if (table.named && table.name && nameNode) {
    if (nameNode.type === 'atom' || nameNode.type === 'quoted_atom' || nameNode.text === '__MODULE__') return nameNode.text;
    if (nameNode.type === 'unary_operator' && nameNode.child(0)?.type === '@') return nameNode.text;
    if (nameNode.type === 'alias') return nameNode.text;
  }
  if (!table.named && table.field && /^[a-z_][a-zA-Z0-9_]*$/.test(table.field)) return `state.${table.field}`;
  if (stateIsTable(table)) return 'state';
  return undefined;
}

/**
 * A record without a time is safe from the match spec when it cannot match the pattern: another
 * arity on the way to the time, or a non-number where the time sits (every non-number sorts after
 * the integer cutoff, so `<` is false).
 */
function safeFromPattern(shape: ElementShape, pattern: ElementShape, path: number[]): boolean {
  let cur: ElementShape | undefined = shape;
  let pat: ElementShape | undefined = pattern;
  if (cur.kind === 'tuple' && pat.kind === 'tuple' && cur.items.length !== pat.items.length) return true;
  for (const i of path) {
    if (cur?.kind === 'non-number') return true;
    if (cur?.kind !== 'tuple' || pat?.kind !== 'tuple') return false;
    if (cur.items.length !== pat.items.length) return true;
    cur = cur.items[i];
    pat = pat.items[i];
  }
  return cur?.kind === 'non-number';
}

/** Functions named like a cleanup, in modules that use the table, that delete nothing. */
function noopCleanups(table: EtsTable, ops: ProjectOp[]): FunctionDef[] {
  const modules = new Set<ModuleDef>([table.module, ...ops.map((o) => o.module)]);
  const found: FunctionDef[] = [];
  for (const mod of modules)
    for (const fn of uniqueFunctions(mod)) {
      if (!CLEANUP_NAME.test(fn.name) || fn.clauses.every((c) => !c.body)) continue;
      if (!mayClean(fn)) found.push(fn);
    }
  return found;
}

/** Whether a function (or its local helpers) makes any call that could delete something. */
function mayClean(fn: FunctionDef): boolean {
  const seen = new Set<FunctionDef>();
  const queue = [fn];
  while (queue.length) {
    const f = queue.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const clause of f.clauses)
      for (const site of clause.calls) {
        if (site.dynamic) return true;
        if (site.module === ':ets') {
          if (['delete', 'delete_object', 'delete_all_objects', 'select_delete', 'match_delete', 'take'].includes(site.name)) return true;
          continue;
        }
        if (site.module && site.module !== f.module.name && !INERT_MODULES.has(site.module)) return true;
      }
    queue.push(...sameProcessCallees(f));
  }
  return false;
}

function literalBody(fn: FunctionDef): string {
  if (fn.clauses.length !== 1) return '';
  const statements = bodyStatements(fn.clauses[0]);
  const last = statements[statements.length - 1];
  if (!last || statements.length !== 1 || !['integer', 'atom', 'nil', 'list', 'map', 'tuple'].includes(last.type)) return '';
  return ` (it only returns \`${oneLine(last.text)}\`)`;
}


/** The GenServer callback the new handle_info goes after when the module has none. */
function lastCallback(mod: ModuleDef): FunctionDef | undefined {
  const callbacks = ['init/1', 'handle_continue/2', 'handle_call/3', 'handle_cast/2']
    .map((k) => mod.functions.get(k))
    .filter((f): f is FunctionDef => !!f && f.clauses.length > 0);
  return callbacks.sort((a, b) => a.clauses[a.clauses.length - 1].node.endIndex - b.clauses[b.clauses.length - 1].node.endIndex).pop();
}

/** A message atom the module does not use yet: `:purge_expired_entries`, else one naming the table. */
function messageAtom(mod: ModuleDef, table: EtsTable): string {
  const text = mod.node.text;
  const own = (table.named ? table.name : table.field)?.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  const candidates = ['purge_expired_entries', ...(own ? [`purge_expired_${own}`] : [])];
  for (let i = 2; ; i++) {
    const name = candidates.shift() ?? `purge_expired_entries_${i}`;
    if (!new RegExp(`:${name}\\b`).test(text)) return name;
  }
}

const UNIT_ATOM: Record<TimeUnit, string> = {
  second: ':second',
  millisecond: ':millisecond',
  microsecond: ':microsecond',
  nanosecond: ':nanosecond',
  native: '',
};
const CLOCK_FN: Record<Clock, string> = { monotonic: 'System.monotonic_time', system: 'System.system_time', os: 'System.os_time' };
const MS_PER_UNIT: Record<Exclude<TimeUnit, 'native'>, number> = { second: 1000, millisecond: 1, microsecond: 0.001, nanosecond: 0.000001 };

function clockCall(t: NumericTime): string {
  return `${CLOCK_FN[t.clock]}(${UNIT_ATOM[t.unit]})`;
}

/** The statements of the cleanup clause before the reschedule, indented for a clause body. */
function cleanupBody(plan: Plan, options: Options, bodyColumn: number): string | { skip: string } {
  const t = plan.element.time;
  const place = placeOf(plan.element.path, keyPositionOr0(plan.table));
  let comment: string;
  let bind: string;
  let cutoff: string;
  if (t.kind === 'expiry') {
    comment = `# Entries whose expiry time (${place}) has passed; live ones stay.`;
    bind = `now = ${clockCall(t)}`;
    cutoff = 'now';
  } else if (t.kind === 'bucket') {
    const back = plan.retention.kind === 'windows' ? plan.retention.back : 0;
    const long = `# Readers look back ${back} window${back === 1 ? '' : 's'}: buckets (${place}) older than that and one more go.`;
    const short = `# Readers look back ${back} window${back === 1 ? '' : 's'}: older buckets, one window to spare, go.`;
    comment = back
      ? bodyColumn + displayWidth(long) <= LINE_LENGTH
        ? long
        : short
      : `# Window buckets (${place}) older than the previous window are never read again.`;
    bind = `current_window = div(${clockCall(t)}, ${windowText(plan)})`;
    cutoff = `current_window - ${back + 1}`;
  } else {
    if (plan.retention.kind !== 'units' || t.unit === 'native') return { skip: 'no retention for write times' };
    // Twice the look-back: a reader that took its time just before a cleanup still finds its entries.
    const keep = plan.retention.back * 2;
    comment = plan.retention.fromOption
      ? `# Entries older than twice the retention (option retentionMs) are not needed.`
      : `# Entries older than twice what its readers look back at are never read again.`;
    bind = `cutoff = ${clockCall(t)} - ${plan.retention.attr ? `2 * ${plan.retention.attr}` : numberText(keep)}`;
    cutoff = 'cutoff';
  }
  const spec = `{${pattern(plan.pattern, plan.element.path)}, [{:<, :"$1", ${cutoff}}], [true]}`;
  const fits = (line: string, extra = 0) => bodyColumn + extra + displayWidth(line) <= LINE_LENGTH;
  const oneLine = `:ets.select_delete(${plan.tableExpr}, [${spec}])`;
  const lines = [comment, bind];
  if (!fits(bind)) return { skip: 'the cleanup code would not fit the line length' };
  if (fits(oneLine)) lines.push(oneLine);
  else if (fits(spec, INDENT.length) && fits(`:ets.select_delete(${plan.tableExpr}, [`))
    lines.push('', `:ets.select_delete(${plan.tableExpr}, [`, `${INDENT}${spec}`, '])', '');
  else return { skip: `the match spec for this record shape is too long to lay out (${spec.length} characters)` };
  return lines.map((l) => (l ? INDENT + l : '')).join('\n');
}

function keyPositionOr0(table: EtsTable): number {
  return keyPosition(table) ?? 0;
}

/** The match head: `:_` everywhere but the tuples leading to the time, which is bound to `:"$1"`. */
function pattern(shape: ElementShape & { kind: 'tuple' }, path: number[]): string {
  const [i, ...rest] = path;
  const items = shape.items.map((item, j) => {
    if (j !== i) return ':_';
    if (!rest.length) return ':"$1"';
    return pattern(item as ElementShape & { kind: 'tuple' }, rest);
  });
  return `{${items.join(', ')}}`;
}

/** The window as the owner module can write it: its own attribute or expression, else the value. */
function windowText(plan: Plan): string {
  const t = plan.element.time as NumericTime & { kind: 'bucket' };
  if (t.window.clause.fn.module === plan.table.module) return t.window.node.text;
  return numberText(t.window.value!);
}

/** `60000` → `60_000`, as Elixir code is usually written (the formatter keeps either). */
function numberText(n: number): string {
  const digits = String(n);
  return digits.length < 5 ? digits : digits.replace(/\B(?=(\d{3})+(?!\d))/g, '_');
}

function human(ms: number): string {
  const units: Array<[number, string]> = [
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, name] of units) if (ms % size === 0) return `${ms / size} ${name}${ms / size === 1 ? '' : 's'}`;
  return `${ms} ms`;
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}

