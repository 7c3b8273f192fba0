import { finding, fnLabel } from '../core/findings.js';
import { valueDiscarded } from '../core/model/dataflow.js';
import { moduleEts } from '../core/model/project.js';
import { describeProcs, fnProcesses, isMany, procLabel, type Proc } from '../core/model/ets-process.js';
import {
  findCallChain,
  literalAtom,
  localTarget,
  siteName,
  uniqueFunctions,
  type CallSite,
  type Clause,
  type FileModel,
  type ModuleDef,
} from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import type { SyntaxNode } from '../core/parse.js';
import { callArguments, callIdentifier, codeChildren, descendants, doBlock, indentAt, isInside, keywordPairs } from '../core/query.js';
import { bodyStatements, definitionEnd, definitionStart, prependStatement, removeStatement } from '../core/rewrite.js';
import type { Edit, Finding, Transform } from '../core/types.js';

type Options = Record<string, never>;

/** A table created on first use: `:ets.new` under an existence check (or a rescue of "already exists"). */
interface Lazy {
  name: string;
  /** The `:ets.new(...)` call. */
  create: CallSite;
  createClause: Clause;
  /** The conditional (or `try`) that makes the creation lazy, in `clause`. */
  guard: SyntaxNode;
  /** The clause holding the guard (may differ from createClause when a helper does the `:ets.new`). */
  clause: Clause;
  how: 'check' | 'rescue';
}

interface Plan {
  edits?: Edit[];
  skip?: string;
}

const rule: Transform<Options> = {
  id: 'ets-lazy-table-creation',
  title: 'ETS table created lazily by whichever process comes first',
  severity: 'high',
  seedRef: '1.1',
  fixSafety: 'review',
  options: {},
  explanation: `
\`if :ets.whereis(name) == :undefined, do: :ets.new(name, [...])\` (or \`case :ets.info(name) do
:undefined -> :ets.new(...)\`) in code that runs in the callers of an API creates the table in
whichever process gets there first, and that process **owns** it. An ETS table is deleted when its
owner exits: when the first caller was a request process, a Task or a test, every entry disappears
with it, and the next caller silently starts over with an empty table. The check is also a race:
two callers can both see \`:undefined\`; the second \`:ets.new\` of a named table raises
\`ArgumentError\` (a \`rescue\` hides the crash but not the ownership problem).

Create the table once, in a process that lives as long as the table is needed: the \`init/1\` of
the GenServer that serves it (under your supervision tree), or \`Application.start/2\`. Callers then
use it without checking. otpfix moves the \`:ets.new\` into the module's own \`init/1\` when the
module is a GenServer registered under a fixed name (one instance, so one named table) and removes
the check; otherwise it reports the finding and says where to move it.

Lazy creation inside the owner's own callbacks, in \`init/1\`, in \`Application.start/2\` or in
\`start_link\` (run by the supervisor, to keep the table across restarts) is not reported.

Before:
\`\`\`elixir
def hit(key) do
  if :ets.whereis(:hits) == :undefined do
    :ets.new(:hits, [:named_table, :public])
  end

  :ets.update_counter(:hits, key, 1, {key, 0})
end

@impl true
def init(opts), do: {:ok, opts}
\`\`\`
After:
\`\`\`elixir
def hit(key) do
  :ets.update_counter(:hits, key, 1, {key, 0})
end

@impl true
def init(opts) do
  :ets.new(:hits, [:named_table, :public])
  {:ok, opts}
end
\`\`\`
`,

  detect({ file, project }) {
    const out: Finding[] = [];
    for (const mod of file.modules)
      for (const lazy of lazyCreations(mod)) {
        const procs = fnProcesses(project, lazy.clause.fn);
        if (!isMany(procs)) continue;
        const others = otherOwners(project, lazy);
        // Also run from a long-lived process (Application.start/2, init/1): the lazy path is a fallback.
        const creatorProcs = lazy.createClause === lazy.clause ? procs : fnProcesses(project, lazy.createClause.fn);
        const owner = creatorProcs.find((p) => p.kind === 'server' || p.kind === 'starter');
        if (owner) others.push(procLabel(owner));
        const plan = planFix(file, mod, lazy);
        out.push(
          finding(rule, file.path, {
            node: lazy.create.node,
            key: `${fnLabel(lazy.clause.fn)}:lazy:${lazy.name}`,
            fixable: !!plan.edits,
            severity: others.length ? 'low' : 'high',
            message: message(lazy, procs, others, plan),
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

const EXISTENCE = new Set([':ets.whereis', ':ets.info']);

/** Every lazy creation of a named table in the module. */
function lazyCreations(mod: ModuleDef): Lazy[] {
  const out: Lazy[] = [];
  const creates = moduleEts(mod).ops.filter((o) => o.kind === 'create' && !o.site.spawned);
  for (const op of creates) {
    const name = literalAtom(op.site.args[0], mod);
    if (!name || !isNamed(op.site, mod)) continue;
    const direct = guardOf(op.site.node, op.clause, name, mod);
    if (direct) {
      out.push({ name, create: op.site, createClause: op.clause, guard: direct.node, clause: op.clause, how: direct.how });
      continue;
    }
    // A helper whose whole job is the `:ets.new`, called under the check: `if ..., do: create()`.
    const helper = op.clause.fn;
    const helperBody = bodyStatements(op.clause);
    if (helper.clauses.length !== 1 || helperBody.length !== 1 || helperBody[0].id !== op.site.node.id) continue;
    for (const fn of uniqueFunctions(mod))
      for (const clause of fn.clauses)
        for (const call of clause.calls) {
          if (call.capture || localTarget(call, mod) !== helper) continue;
          const g = guardOf(call.node, clause, name, mod);
          if (g) out.push({ name, create: op.site, createClause: op.clause, guard: g.node, clause, how: g.how });
        }
  }
  return out;
}

function isNamed(site: CallSite, mod: ModuleDef): boolean {
  const opts = site.args[1];
  return !!opts && opts.type === 'list' && codeChildren(opts).some((o) => literalAtom(o, mod) === 'named_table');
}

/** The conditional that runs `node` only when `name` does not exist yet, or a `try` rescuing its creation. */
function guardOf(node: SyntaxNode, clause: Clause, name: string, mod: ModuleDef): { node: SyntaxNode; how: Lazy['how'] } | undefined {
  const body = clause.body;
  if (!body) return undefined;
  for (let n = node.parent; n && n.id !== body.id; n = n.parent) {
    const kind = callIdentifier(n);
    if (kind === 'if' || kind === 'unless' || kind === 'case' || kind === 'cond') {
      const cond = kind === 'cond' ? doBlock(n) : callArguments(n)[0];
      if (!cond || isInside(node, cond) && kind !== 'cond') continue;
      if (checksExistence(cond, node, name, mod)) return { node: n, how: 'check' };
    } else if (kind === 'try') {
      const block = doBlock(n);
      const rescue = block?.namedChildren.find((c) => c.type === 'rescue_block');
      if (rescue && /ArgumentError|_ ->|e ->/.test(rescue.text) && !isInside(node, rescue)) return { node: n, how: 'rescue' };
    }
  }
  return undefined;
}

function checksExistence(cond: SyntaxNode, except: SyntaxNode, name: string, mod: ModuleDef): boolean {
  for (const n of descendants(cond, ['call'])) {
    if (isInside(n, except)) continue;
    const target = n.childForFieldName('target');
    if (target?.type !== 'dot') continue;
    const qualified = `${target.childForFieldName('left')?.text}.${target.childForFieldName('right')?.text}`;
    const args = callArguments(n);
    if (EXISTENCE.has(qualified) && args.length === 1 && literalAtom(args[0], mod) === name) return true;
  }
  return false;
}

/** Other places that create the same named table in a long-lived process (init, Application.start). */
function otherOwners(project: ProjectIndex, lazy: Lazy): string[] {
  return project.tables
    .filter((t) => t.named && t.name === lazy.name && t.site !== lazy.create)
    .filter((t) => {
      const procs = fnProcesses(project, t.fn);
      return procs.length > 0 && !isMany(procs);
    })
    .map((t) => `${t.module.name}.${t.fn.name}/${t.fn.arity}`);
}

/** The creation is wrapped in a rescue (a `try`, or the creating function's own `rescue`). */
function rescued(lazy: Lazy): boolean {
  if (lazy.how === 'rescue') return true;
  const block = doBlock(lazy.createClause.node);
  return !!block?.namedChildren.some((c) => c.type === 'rescue_block');
}

function tableText(name: string): string {
  return /^[A-Z]/.test(name) ? name : `:${name}`;
}

function message(lazy: Lazy, procs: Proc[], others: string[], plan: Plan): string {
  const check = lazy.how === 'check' ? 'when an existence check finds no table' : 'rescuing the error when it already exists';
  let text = `${tableText(lazy.name)} is created on first use (${check}) in ${describeProcs(procs)}: the process that gets there first owns the table, and the table and every entry are deleted when that process exits.`;
  text += rescued(lazy)
    ? ' The rescue hides the creation race (a second :ets.new raising ArgumentError), not the ownership problem.'
    : ' Two callers can also both see no table; the second :ets.new raises ArgumentError.';
  if (others.length)
    text += ` It is also created from ${others.join(', ')}; this lazy path only runs when that did not happen first (tests, restarts), so it is lower priority.`;
  text += plan.edits
    ? ` Create it once in ${lazy.clause.fn.module.name}.init/1.`
    : ` Create it once in a long-lived owner (a GenServer's init/1 under your supervisor, or Application.start/2). Not rewritten: ${plan.skip}.`;
  return text;
}

// ---------------------------------------------------------------------------------------------
// Fix: move the `:ets.new` into the module's own init/1, remove the check.

function planFix(file: FileModel, mod: ModuleDef, lazy: Lazy): Plan {
  if (!mod.kinds.has('genserver')) return { skip: `${mod.name} is not a GenServer that could own the table` };
  const init = mod.functions.get('init/1');
  if (!init || !init.clauses.every((c) => c.body)) return { skip: `${mod.name} has no init/1 to create the table in` };
  if (!singleton(mod)) return { skip: `${mod.name} is not registered under a fixed name, so several instances would each try to create the named table` };
  if (lazy.clause.fn === init) return { skip: 'the check is already in init/1' };
  const removal = removeGuard(file, mod, lazy);
  if ('skip' in removal) return removal;
  const edits = [...removal.edits];
  const code = reindentedCall(file, lazy.create.node);
  // init/1 may already create it, itself or through a helper (then only the lazy check goes).
  const alreadyInInit = moduleEts(mod).tables.some(
    (t) => t.name === lazy.name && (t.fn === init || !!findCallChain(init, (f) => f === t.fn)),
  );
  if (!alreadyInInit)
    for (const clause of init.clauses) {
      const edit = prependStatement(file, clause, code);
      if (!edit) return { skip: 'init/1 has a one-line body spanning several lines' };
      edits.push(edit);
    }
  return { edits };
}

/** `GenServer.start_link(__MODULE__, arg, name: __MODULE__)` (or a literal atom name). */
function singleton(mod: ModuleDef): boolean {
  for (const fn of uniqueFunctions(mod))
    for (const clause of fn.clauses)
      for (const site of clause.calls) {
        if (siteName(site) !== 'GenServer.start_link' && siteName(site) !== 'GenServer.start') continue;
        const name = keywordPairs(site.args[2])?.find((p) => p.key === 'name')?.value;
        if (name && literalAtom(name, mod) !== undefined) return true;
      }
  return false;
}

/** The creation call laid out for a new place: later lines keep their indentation relative to the first. */
function reindentedCall(file: FileModel, call: SyntaxNode): string {
  const base = indentAt(file.text, call.startIndex);
  return call.text
    .split('\n')
    .map((line, i) => (i === 0 ? line : line.startsWith(base) ? line.slice(base.length) : line.trimStart()))
    .join('\n');
}

/**
 * Remove the lazy check: the conditional itself when it is a statement whose value is unused; or,
 * when it is the whole body of a private helper (`defp ensure_table`), the helper and its calls.
 */
function removeGuard(file: FileModel, mod: ModuleDef, lazy: Lazy): { skip: string } | { edits: Edit[] } {
  const clause = lazy.clause;
  const body = clause.body!;
  const fn = clause.fn;
  const stmts = bodyStatements(clause);
  // A private helper whose whole job is the check (`defp ensure_table`, maybe ending in `:ok`) goes
  // with its calls; otherwise the check statement alone.
  const onlyJob = stmts[0]?.id === lazy.guard.id && (stmts.length === 1 || (stmts.length === 2 && stmts[1].text === ':ok'));
  if (fn.kind !== 'defp' || fn.clauses.length !== 1 || !onlyJob) {
    if (!valueDiscarded(lazy.guard, body)) return { skip: "the check's value is used" };
    const edit = removeStatement(file, lazy.guard);
    return edit ? { edits: [edit] } : { skip: 'the check shares its line with other code' };
  }
  const calls: Array<{ site: CallSite; clause: Clause }> = [];
  for (const other of uniqueFunctions(mod))
    for (const c of other.clauses)
      for (const site of c.calls) if (localTarget(site, mod) === fn) calls.push({ site, clause: c });
  const edits: Edit[] = [];
  for (const { site, clause: c } of calls) {
    if (site.capture || !c.body || !valueDiscarded(site.node, c.body)) return { skip: `a call of ${fn.name}/${fn.arity} uses its value` };
    const edit = removeStatement(file, site.node);
    if (!edit) return { skip: `a call of ${fn.name}/${fn.arity} shares its line with other code` };
    edits.push(edit);
  }
  // The helper itself, with its docs and the blank line that separated it.
  let start = definitionStart(file, clause.node);
  let end = definitionEnd(file, clause.node);
  if (file.text.slice(end, end + 1) === '\n') end += 1;
  else if (file.text.slice(start - 2, start) === '\n\n') start -= 1;
  edits.push({ file: file.path, start, end, text: '' });
  // The `:ets.new` helper of an `if ..., do: create()` check goes too, when nothing else calls it.
  if (lazy.createClause !== clause) {
    const creator = lazy.createClause.fn;
    const users = uniqueFunctions(mod).flatMap((f) => f.clauses.flatMap((c) => c.calls.filter((s) => localTarget(s, mod) === creator)));
    if (users.length === 1 && creator.clauses.length === 1) {
      let cs = definitionStart(file, lazy.createClause.node);
      let ce = definitionEnd(file, lazy.createClause.node);
      if (file.text.slice(ce, ce + 1) === '\n') ce += 1;
      else if (file.text.slice(cs - 2, cs) === '\n\n') cs -= 1;
      edits.push({ file: file.path, start: cs, end: ce, text: '' });
    }
  }
  return { edits };
}
