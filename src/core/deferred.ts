/**
 * Deferred work: move the blocking statements of a GenServer callback into a task under a
 * Task.Supervisor, and run whatever needs their result back in the server, in a new `handle_info`
 * clause. For `handle_call` the caller is answered with `GenServer.reply/2` (a deferred reply); for
 * `handle_cast`/`handle_info`/`handle_continue` nobody waits, so the task only does the work.
 */
import { codeBlocking, type BlockingCall, type BlockingPattern } from './model/blocking.js';
import { resolveModuleName, type Clause, type FileModel, type ModuleDef } from './model/module.js';
import type { ProjectIndex } from './model/project.js';
import { resolveTaskSupervisor } from './model/supervision.js';
import { freshName, identifiersIn, patternVariables, statementBindings, underscoreUnused, variablesRead } from './model/vars.js';
import type { SyntaxNode } from './parse.js';
import { atomValue, binaryOperator, codeChildren, descendants, indentAt, indentLines, isInside } from './query.js';
import {
  addListElementBefore,
  bodyStatements,
  clauseText,
  handleInfoPlacement,
  LOGGING_CATCH_ALL,
  memberIndent,
  reindentTail,
  replaceNode,
} from './rewrite.js';
import type { Edit, FixResult, OptionSchema } from './types.js';

export type DeferMode = 'reply' | 'noreply';

export interface DeferOptions {
  taskSupervisor: string;
  maxChildren: number;
}

/** The options every rule that defers work takes (spread into its `options`). */
export const DEFER_OPTION_SPECS: OptionSchema = {
  taskSupervisor: {
    type: 'string',
    default: '',
    description:
      'Name of a Task.Supervisor that is running before the server starts, to use when otpfix finds none in the supervision tree (a library, a server started dynamically). Empty (default): otpfix reuses one the application starts on every boot before the server, or adds one right before the server in the tree, or leaves the site alone.',
  },
  maxChildren: {
    type: 'number',
    default: 1000,
    description: 'max_children of the Task.Supervisor the fix adds to the application when there is none.',
    validate: (v) => (Number.isInteger(v) && (v as number) > 0 ? undefined : 'must be a positive integer'),
  },
};

export interface Plan {
  mode: DeferMode;
  clause: Clause;
  statements: SyntaxNode[];
  /** Index of the first statement that moves into the task (== statements.length - 1 when only the reply value blocks). */
  spanStart: number;
  /** Index after the last moved statement. */
  spanEnd: number;
  /** The reply value (`reply` mode). */
  reply?: SyntaxNode;
  newState: SyntaxNode;
  /** Nothing after the work needs its result in the server: no continuation clause. */
  direct: boolean;
  /** Variables the server-side continuation needs from the callback's scope. */
  carried: string[];
  fromParam?: SyntaxNode;
  stateParam: SyntaxNode;
  /** What a reviewer must check at this site (values read from the state before the work, used after it). */
  risks: string[];
  /** A periodic `handle_info` that reschedules itself: one run at a time, failures logged, the loop kept. */
  periodic?: { reschedule: SyntaxNode; hoist: boolean };
}

const UNSAFE_IN_TASK: Record<string, string> = {
  self: 'it calls self(), which in a task is the task, not the server',
  'Process.get': 'it reads the process dictionary, which belongs to the server',
  'Process.put': 'it writes the process dictionary, which belongs to the server',
  'Process.delete': 'it writes the process dictionary, which belongs to the server',
  'GenServer.reply': 'the clause already replies with GenServer.reply',
};

const OWNED = 'which the calling process owns: opened in a task, it is closed when the task ends';
/** Calls that create something owned by (or linked to) the process that makes them. */
const OWNED_BY_CALLER: Record<string, string> = {
  'File.open': `it opens a file (File.open), ${OWNED}`,
  ':file.open': `it opens a file (:file.open), ${OWNED}`,
  'Port.open': `it opens a port, ${OWNED}`,
  ':erlang.open_port': `it opens a port, ${OWNED}`,
  ':gen_tcp.connect': `it opens a socket, ${OWNED}`,
  ':gen_tcp.listen': `it opens a socket, ${OWNED}`,
  ':gen_tcp.accept': `it accepts a socket, ${OWNED}`,
  ':gen_udp.open': `it opens a socket, ${OWNED}`,
  ':ssl.connect': `it opens a socket, ${OWNED}`,
  'Process.monitor': 'it monitors a process: in a task the monitor would belong to the task',
  'Process.link': 'it links a process: in a task the link would belong to the task',
  spawn_link: 'it links a new process: in a task the link would belong to the task',
  'Process.flag': 'it sets a process flag, which would apply to the task',
};

/** Whether and how a callback clause can defer its blocking work; a reason when it cannot. */
export function planDeferral(
  clause: Clause,
  evidence: BlockingCall[],
  patterns: readonly BlockingPattern[],
  mode: DeferMode,
  project?: ProjectIndex,
): Plan | { reason: string } {
  const withReceive = evidence.some((e) => e.category === 'receive') || mode === 'reply';
  const matches = (node: SyntaxNode) => codeBlocking(clause, node, patterns, project, withReceive).length > 0;
  if (evidence.some((e) => e.category === 'receive'))
    return { reason: "it waits in `receive`, which reads this server's own mailbox; in a task it would read the task's" };
  const statements = bodyStatements(clause);
  const last = statements[statements.length - 1];
  const tuple = last?.type === 'tuple' ? codeChildren(last) : [];
  const shape = mode === 'reply' ? '{:reply, value, state}' : '{:noreply, state}';
  if (tuple.length !== (mode === 'reply' ? 3 : 2) || tuple[0].text !== (mode === 'reply' ? ':reply' : ':noreply'))
    return { reason: `the clause does not end in one ${shape} tuple (it returns from several branches, or a variable)` };
  const reply = mode === 'reply' ? tuple[1] : undefined;
  const newState = tuple[tuple.length - 1];
  const fromParam = mode === 'reply' ? clause.params[1] : undefined;
  const stateParam = clause.params[clause.params.length - 1];
  if (matches(newState)) return { reason: 'the blocking call computes the new state itself' };

  const blocking = statements.slice(0, -1).map(matches);
  const first = blocking.indexOf(true);
  if (first === -1 && !reply) return { reason: 'the blocking call is part of the returned tuple' };
  let spanStart = first === -1 ? statements.length - 1 : first;
  const spanEnd = first === -1 ? spanStart : blocking.lastIndexOf(true) + 1;
  // Only a task's owner may await it: a task started just before the await moves with it.
  for (let k = spanStart - 1; k >= 0; k--) {
    const read = variablesRead(statements.slice(spanStart, spanEnd));
    if ([...statementBindings(statements[k])].some((v) => read.has(v)) && startsTask(clause, statements[k])) spanStart = k;
  }
  const moved = [...statements.slice(spanStart, spanEnd), ...(reply && matches(reply) ? [reply] : [])];

  const unsafe = unsafeInTask(clause, moved) ?? awaitsForeignTask(clause, moved, statements.slice(spanStart, spanEnd));
  if (unsafe) return { reason: unsafe };
  const stateName = stateVariable(stateParam);
  const spanBound = new Set(statements.slice(spanStart, spanEnd).flatMap((s) => [...statementBindings(s)]));
  if (stateName && spanBound.has(stateName)) return { reason: 'the blocking statements rebind the state variable' };
  for (const node of moved)
    for (const n of descendants(node, ['string', 'charlist', 'sigil']))
      if (n.startPosition.row !== n.endPosition.row && !/^("""|'''|~\w""")/.test(n.text))
        return { reason: 'it holds a multi-line string that re-indenting would change' };

  const periodic = mode === 'noreply' ? planPeriodic(clause, statements, spanStart, spanEnd, stateParam) : undefined;
  if (periodic && 'reason' in periodic) return periodic;
  const suffix = statements.slice(spanEnd, -1).filter((st) => !(periodic?.hoist && st.id === periodic.reschedule.id));
  const readByState = variablesRead([newState]);
  // A periodic run always reports back: the server must know when it is over.
  const direct = !periodic && suffix.length === 0 && ![...spanBound].some((v) => readByState.has(v));
  const fromName = stateVariable(fromParam);
  const bound = new Set([
    ...patternVariables(clause.params[0]),
    ...(fromParam ? [...patternVariables(fromParam)].filter((v) => v !== fromName) : []),
    ...statements.slice(0, spanStart).flatMap((s) => [...statementBindings(s)]),
    ...spanBound,
  ]);
  const stateVars = stateParam ? patternVariables(stateParam) : new Set<string>();
  const carried = direct
    ? []
    : orderOfUse([...suffix, ...(reply ? [reply] : []), newState]).filter((v) => bound.has(v) && !stateVars.has(v) && v !== fromName);
  const stale = direct ? { risks: [] } : staleState(clause, statements, spanStart, spanEnd, newState, stateVars, carried);
  if ('reason' in stale) return stale;
  return { mode, clause, statements, spanStart, spanEnd, reply, newState, direct, carried, fromParam, stateParam, risks: stale.risks, periodic };
}

const RESCHEDULES = new Set(['Process.send_after', ':erlang.send_after', ':erlang.start_timer', ':timer.send_after']);

/** The statement of a `handle_info` clause that sends the clause's own message to the server again later. */
function rescheduleStatement(clause: Clause, statements: SyntaxNode[]): number {
  const message = clause.params[0]?.text.replace(/\s+/g, ' ');
  return statements.findIndex((st) =>
    clause.calls.some((site) => {
      if (site.spawned || !RESCHEDULES.has(`${site.module}.${site.name}`) || !isInside(site.node, st)) return false;
      const msg = site.module === 'Process' ? site.args[1] : site.args[site.args.length - 1];
      return msg?.text.replace(/\s+/g, ' ') === message;
    }),
  );
}

/**
 * A periodic clause keeps its loop: the reschedule runs before the work starts (hoisted from after
 * the work when it reads nothing the work computes), and the running task is tracked in the state
 * so that a tick arriving while it runs is skipped. Refuses what it cannot keep that way.
 */
function planPeriodic(
  clause: Clause,
  statements: SyntaxNode[],
  spanStart: number,
  spanEnd: number,
  stateParam: SyntaxNode,
): Plan['periodic'] | { reason: string } | undefined {
  if (clause.fn.name !== 'handle_info') return undefined;
  const r = rescheduleStatement(clause, statements.slice(0, -1));
  if (r === -1) return undefined;
  const reschedule = statements[r];
  if (r >= spanStart && r < spanEnd) return { reason: 'it reschedules itself between blocking calls, so the loop cannot be kept apart from the work' };
  if (statementBindings(reschedule).size || binaryOperator(reschedule) === '=')
    return { reason: 'it keeps the reference of its reschedule timer, which would have to be stored before the work ends' };
  const mod = clause.fn.module;
  if (/^\s*defstruct\b/m.test(mod.body.text) || /^%(__MODULE__|[A-Z])/.test(stateParam.text))
    return {
      reason:
        'the state is a struct: running one refresh at a time needs the running task in the state, and otpfix does not add fields to a struct. ' +
        'By hand: add a field for the task ref, start the work with Task.Supervisor.async_nolink/2 unless one is running, and handle {ref, result} and {:DOWN, ref, ...}',
    };
  const hoist = r >= spanEnd;
  if (hoist) {
    const later = new Set(statements.slice(spanStart, r).flatMap((st) => [...statementBindings(st)]));
    if ([...variablesRead([reschedule])].some((v) => later.has(v)))
      return { reason: 'its reschedule uses what the work computes, so it cannot run before the work starts' };
  }
  return { reschedule, hoist };
}

/** Modules whose functions only compute on their arguments: what they return is made of what they got. */
const DATA_MODULES = new Set(['Map', 'Keyword', 'Enum', 'List', 'MapSet', 'Tuple', 'String', 'Kernel', 'Access', 'Integer', 'Float', 'Stream', 'Atom', ':maps', ':lists', ':queue', ':sets', ':gb_trees', ':gb_sets']);
const SPECIAL_FORMS = new Set(['case', 'cond', 'if', 'unless', 'with', 'for', 'fn', 'try', 'receive', 'quote']);

/** How much of the server state a value is made of: none, a part (a field, a count), the whole state. */
type Taint = 0 | 1 | 2;
const GETTERS = /^(get|fetch!?|take|keys|values|has_key\?|member\?|count|size|length|at|first|last|sum|max|min)$/;

/**
 * How much of the state in `levels` an expression's value is made of. What an external call returns
 * given parts of the state is the service's data (`HTTP.get(state.url)`), not the state; a helper
 * given the whole state (`sync(state, id)`) may return it, so its result counts as the whole state.
 */
function stateTaint(node: SyntaxNode, levels: Map<string, Taint>, mod: ModuleDef): Taint {
  const max = (nodes: SyntaxNode[]) => nodes.reduce<Taint>((m, n) => Math.max(m, stateTaint(n, levels, mod)) as Taint, 0);
  const callResult = (args: SyntaxNode[], receiver: string | undefined, name: string | undefined): Taint => {
    if (receiver && DATA_MODULES.has(receiver)) return Math.min(max(args), name && GETTERS.test(name) ? 1 : 2) as Taint;
    return args.some((a) => stateTaint(a, levels, mod) === 2) ? 2 : 0;
  };
  switch (node.type) {
    case 'identifier':
      return levels.get(node.text) ?? 0;
    case 'call': {
      const target = node.childForFieldName('target');
      const args = node.namedChildren.find((c) => c.type === 'arguments');
      const argList = args ? codeChildren(args) : [];
      if (target?.type === 'dot') {
        const left = target.childForFieldName('left');
        if (!args && left && left.type !== 'alias') return Math.min(stateTaint(left, levels, mod), 1) as Taint; // state.field
        return callResult(argList, left ? resolveModuleName(left, mod) : undefined, target.childForFieldName('right')?.text);
      }
      const id = target?.type === 'identifier' ? target.text : undefined;
      if (id && SPECIAL_FORMS.has(id)) return max(codeChildren(node));
      return callResult(argList, undefined, id);
    }
    case 'binary_operator': {
      if (binaryOperator(node) === '|>') {
        const left = node.childForFieldName('left')!;
        const right = node.childForFieldName('right')!;
        if (right.type !== 'call') return max([left, right]);
        const target = right.childForFieldName('target');
        const args = right.namedChildren.find((c) => c.type === 'arguments');
        const argList = [left, ...(args ? codeChildren(args) : [])];
        if (target?.type === 'dot') return callResult(argList, resolveModuleName(target.childForFieldName('left')!, mod), target.childForFieldName('right')?.text);
        return callResult(argList, undefined, target?.text);
      }
      return max(codeChildren(node));
    }
    default:
      return max(codeChildren(node));
  }
}

/**
 * The continuation runs on the current state; values computed from the state as it was when the
 * callback ran are stale by then. Refuse when such a value flows into the new state (a lost update);
 * name it as a risk when it only reaches the reply or side effects.
 */
function staleState(
  clause: Clause,
  statements: SyntaxNode[],
  spanStart: number,
  spanEnd: number,
  newState: SyntaxNode,
  stateVars: Set<string>,
  carried: string[],
): { risks: string[] } | { reason: string } {
  const mod = clause.fn.module;
  // The state parameter is the whole state; variables its pattern binds are parts of it.
  const stateName = stateVariable(clause.params[clause.params.length - 1]);
  const levels = new Map<string, Taint>([...stateVars].map((v) => [v, v === stateName ? 2 : 1] as [string, Taint]));
  const origin = new Map<string, SyntaxNode>();
  for (const stmt of statements.slice(0, spanEnd)) {
    const bound = statementBindings(stmt);
    if (!bound.size) continue;
    const rhs = binaryOperator(stmt) === '=' ? stmt.childForFieldName('right') : stmt;
    const level = rhs ? stateTaint(rhs, levels, mod) : 0;
    for (const v of bound) {
      if (level) (levels.set(v, level), origin.set(v, rhs!));
      else levels.delete(v);
    }
  }
  const tainted = new Set([...levels.keys()]);
  // Variables the new state is computed from, through the statements that run after the work.
  const needed = variablesRead([newState]);
  const suffix = statements.slice(spanEnd, -1);
  for (let k = suffix.length - 1; k >= 0; k--)
    if ([...statementBindings(suffix[k])].some((v) => needed.has(v))) for (const v of variablesRead([suffix[k]])) needed.add(v);
  const stale = carried.filter((v) => tainted.has(v) && !stateVars.has(v));
  const lost = stale.find((v) => needed.has(v));
  if (lost) {
    const from = origin.get(lost)!;
    const inSpan = statements.slice(spanStart, spanEnd).some((st) => isInside(from, st));
    const text = from.text.replace(/\s+/g, ' ').slice(0, 60);
    return {
      reason:
        `\`${lost}\` comes from the state as it was when the message arrived (\`${text}\`) and becomes part of the new state: ` +
        `computed in a task from that snapshot, installing it would discard what other messages change meanwhile (a lost update)` +
        (inSpan ? '. By hand: run only the blocking call in a task and fold its result into the current state when it comes back' : ''),
    };
  }
  return {
    risks: stale.map(
      (v) => `\`${v}\` is read from the state when the message arrives and used after the work ends: it may be out of date by then (the state can change while the work runs)`,
    ),
  };
}

function unsafeInTask(clause: Clause, moved: SyntaxNode[]): string | undefined {
  const inMoved = (n: SyntaxNode) => moved.some((m) => n.startIndex >= m.startIndex && n.endIndex <= m.endIndex);
  const check = (sites: Clause['calls']) => {
    for (const site of sites) {
      if (site.spawned || site.capture) continue;
      const name = site.module ? `${site.module}.${site.name}` : site.name;
      if (UNSAFE_IN_TASK[name] && (site.module || site.arity === 0)) return UNSAFE_IN_TASK[name];
      // File.open/3 with a function closes the file itself.
      if (OWNED_BY_CALLER[name] && !(name === 'File.open' && site.arity === 3)) return OWNED_BY_CALLER[name];
      if (site.module === ':ets') return `it uses ETS (:ets.${site.name}); a table the server owns may not be writable, or even readable, from a task`;
    }
    return undefined;
  };
  const direct = check(clause.calls.filter((s) => inMoved(s.node)));
  if (direct) return direct;
  // Helpers the moved code calls, several hops deep.
  const seen = new Set([clause.fn]);
  const queue = clause.calls.filter((s) => inMoved(s.node) && !s.spawned);
  const mod = clause.fn.module;
  while (queue.length) {
    const site = queue.pop()!;
    const target = site.dynamic || (site.module && site.module !== mod.name) ? undefined : mod.functions.get(`${site.name}/${site.arity}`);
    if (!target || seen.has(target)) continue;
    seen.add(target);
    for (const c of target.clauses) {
      const problem = check(c.calls);
      if (problem) return `${problem} (in ${target.name}/${target.arity})`;
      queue.push(...c.calls.filter((s) => !s.spawned));
    }
  }
  return undefined;
}

const TASK_STARTS = new Set(['Task.async', 'Task.Supervisor.async', 'Task.Supervisor.async_nolink']);
const TASK_WAITS = new Set(['Task.await', 'Task.yield', 'Task.await_many', 'Task.yield_many', 'Task.shutdown']);

function startsTask(clause: Clause, statement: SyntaxNode): boolean {
  return clause.calls.some((s) => !s.spawned && s.node.startIndex >= statement.startIndex && s.node.endIndex <= statement.endIndex && TASK_STARTS.has(`${s.module}.${s.name}`));
}

/** An await in the moved code on a task that is not started there: only the owner (the server) may await it. */
function awaitsForeignTask(clause: Clause, moved: SyntaxNode[], movedStatements: SyntaxNode[]): string | undefined {
  const bound = new Set(movedStatements.flatMap((s) => [...statementBindings(s)]));
  for (const site of clause.calls) {
    if (site.spawned || !TASK_WAITS.has(`${site.module}.${site.name}`)) continue;
    if (!moved.some((m) => site.node.startIndex >= m.startIndex && site.node.endIndex <= m.endIndex)) continue;
    const task = site.args[0];
    const local = task && (task.type === 'call' || task.type === 'binary_operator' || (task.type === 'identifier' && bound.has(task.text)));
    if (!local) return `it awaits a task the server started earlier (\`${task?.text ?? '?'}\`), and only the task's owner can await it`;
  }
  return undefined;
}

function stateVariable(param: SyntaxNode | undefined): string | undefined {
  if (!param) return undefined;
  if (param.type === 'identifier') return param.text;
  if (binaryOperator(param) === '=') {
    for (const side of [param.childForFieldName('right'), param.childForFieldName('left')])
      if (side?.type === 'identifier') return side.text;
  }
  return undefined;
}

/** Variables read by these nodes, in order of first appearance. */
function orderOfUse(nodes: SyntaxNode[]): string[] {
  const seen: string[] = [];
  const read = variablesRead(nodes);
  for (const node of nodes)
    for (const n of descendants(node, ['identifier'])) if (read.has(n.text) && !seen.includes(n.text)) seen.push(n.text);
  return seen;
}

function messageTag(clause: Clause, mod: ModuleDef): string {
  const msg = clause.params[0];
  const first = msg?.type === 'tuple' ? codeChildren(msg)[0] : msg;
  const tag = atomValue(first);
  const base = tag && /^[a-z_][a-zA-Z0-9_]*$/.test(tag) ? `${tag}_result` : 'deferred_result';
  const taken = mod.body.text;
  for (let i = 1; ; i++) {
    const name = i === 1 ? base : `${base}_${i}`;
    if (!new RegExp(`:${name}\\b`).test(taken)) return `:${name}`;
  }
}

interface SupervisorChoice {
  code: string;
  edits: Edit[];
  notes: string[];
}

/**
 * The Task.Supervisor to run work under: one the application starts on every boot before the
 * server; else the one named in the rule's options; else one added to the tree right before the
 * server's child spec. Never a name the project does not start: otherwise the reason to refuse.
 */
export function chooseTaskSupervisor(mod: ModuleDef, project: ProjectIndex, options: Partial<DeferOptions>): SupervisorChoice | { reason: string } {
  const found = resolveTaskSupervisor(project, mod);
  if (found.kind === 'existing') return { code: found.code, edits: [], notes: [] };
  if (options.taskSupervisor)
    return { code: options.taskSupervisor, edits: [], notes: [`uses ${options.taskSupervisor} (the taskSupervisor option): it must be running before ${mod.name} starts`] };
  if (found.kind === 'none')
    return {
      reason: `${found.reason}. By hand: start a Task.Supervisor before ${mod.name} and run the work under it, or name it in this rule's \`taskSupervisor\` option`,
    };
  const limit = options.maxChildren ?? 1000;
  const spec = `{Task.Supervisor, name: ${found.code}, max_children: ${limit}}`;
  const edits: Edit[] = [];
  for (const insert of found.inserts) {
    const added = addListElementBefore(insert.file, insert.list, insert.before, spec);
    if (!added) return { reason: `adding ${found.code} before ${mod.name} would break the layout of its children list; add ${spec} before it by hand` };
    edits.push(...added);
  }
  return { code: found.code, edits, notes: [`adds ${found.code} (max_children: ${limit}) to ${found.application.name}'s tree, before ${mod.name}`] };
}

/** Why a planned deferral cannot be offered (the plan's own reason, or no Task.Supervisor to use). */
export function deferralBlocker(plan: Plan | { reason: string }, project: ProjectIndex, options: Partial<DeferOptions>): string | undefined {
  if ('reason' in plan) return plan.reason;
  const choice = chooseTaskSupervisor(plan.clause.fn.module, project, options);
  return 'reason' in choice ? choice.reason : undefined;
}

/** The edits that defer the planned work (and add a Task.Supervisor, and `require Logger`, if needed). */
export function deferralEdits(file: FileModel, project: ProjectIndex, options: DeferOptions, plan: Plan): FixResult {
  const { mode, clause, statements, spanStart, spanEnd, reply, newState, direct, carried } = plan;
  const mod = clause.fn.module;
  const text = file.text;
  const taken = identifiersIn(clause.node);
  const edits: Edit[] = [];

  // Head variables the rewritten callback no longer reads get a `_` (they moved to the continuation).
  const stillRead = variablesRead([
    ...(clause.guard ? [clause.guard] : []),
    ...statements.slice(0, spanEnd),
    ...(direct ? [...(reply ? [reply] : []), newState] : []),
  ]);
  for (const v of carried) stillRead.add(v);
  const [messageParam] = clause.params;
  const newMessage = underscoreUnused(messageParam, stillRead, clause.params.slice(1));
  if (newMessage !== messageParam.text) edits.push(replaceNode(file, messageParam, newMessage));
  // `from` and the state must be bound to names the generated code can use.
  const named = (param: SyntaxNode, preferred: string[]): string => {
    const current = stateVariable(param);
    const fresh = !current || current.startsWith('_') ? freshName(preferred, taken) : undefined;
    const name = fresh ?? current!;
    stillRead.add(name);
    taken.add(name);
    let newText = underscoreUnused(param, stillRead, clause.params.filter((p) => p.id !== param.id));
    if (fresh) newText = current ? (param.type === 'identifier' ? fresh : newText.replace(new RegExp(`\\b_?${current}$`), fresh)) : `${newText} = ${fresh}`;
    if (newText !== param.text) edits.push(replaceNode(file, param, newText));
    return name;
  };
  const fromName = plan.fromParam ? named(plan.fromParam, ['from', 'caller']) : undefined;
  const stateName = named(plan.stateParam, ['state', 'server_state']);

  const supervisor = chooseTaskSupervisor(mod, project, options);
  if ('reason' in supervisor) return { skip: supervisor.reason };
  const serverName = freshName(['server', 'server_pid'], taken);
  const workName = freshName(['work', 'deferred_work'], taken);
  const tag = messageTag(clause, mod);

  const bodyIndent = clause.oneLiner ? indentAt(text, clause.node.startIndex) + '  ' : indentAt(text, statements[0].startIndex);
  // Comments directly above the first moved statement move with it.
  const movedStart = spanEnd > spanStart ? attachedCommentsStart(text, statements[spanStart]) : -1;
  const inner = mode === 'reply' ? '    ' : '  ';
  const moved = spanEnd > spanStart ? reindentTail(text.slice(movedStart, statements[spanEnd - 1].endIndex), inner) : '';
  const blankBeforeFinish = spanEnd > spanStart && /\n[ \t]*\n/.test(text.slice(statements[spanEnd - 1].endIndex, statements[spanEnd].startIndex));
  const sendBack = `send(${serverName}, {${[tag, ...(fromName ? [fromName] : []), ...carried].join(', ')}})`;
  const finish = direct ? (reply && fromName ? `GenServer.reply(${fromName}, ${reindentTail(reply.text, inner)})` : '') : sendBack;
  const work = [...(moved ? [moved] : []), ...(finish && blankBeforeFinish ? [''] : []), ...(finish ? [finish] : [])];
  const taskBody =
    mode === 'reply'
      ? [
          '  try do',
          ...work.map((l) => (l ? `    ${l}` : '')),
          '  catch',
          '    kind, reason ->',
          `      GenServer.reply(${fromName}, {:error, {kind, reason}})`,
          '      :erlang.raise(kind, reason, __STACKTRACE__)',
          '  end',
        ]
      : work.map((l) => (l ? `  ${l}` : ''));
  const okState = direct ? newState.text : stateName;
  const key = plan.periodic ? runningKey(tag, mod) : undefined;
  const refused =
    mode === 'reply'
      ? [`  {:error, reason} -> {:reply, {:error, reason}, ${stateName}}`]
      : [
          '  {:error, reason} ->',
          `    Logger.warning("${mod.name}: could not start deferred work: #{inspect(reason)}")`,
          `    {:noreply, ${stateName}}`,
        ];
  const okBranch =
    mode === 'reply'
      ? [`  {:ok, _pid} -> {:noreply, ${okState}}`]
      : key
        ? ['  {:ok, pid} ->', `    {:noreply, Map.put(${stateName}, ${key}, Process.monitor(pid))}`, '']
        : ['  {:ok, _pid} ->', `    {:noreply, ${okState}}`, ''];
  let lines = [
    ...(direct ? [] : [`${serverName} = self()`, '']),
    `${workName} = fn ->`,
    ...taskBody,
    'end',
    '',
    `case Task.Supervisor.start_child(${supervisor.code}, ${workName}) do`,
    ...okBranch,
    ...refused,
    'end',
  ];
  if (key) {
    // One run at a time: a tick that comes while the last run is still going is skipped.
    lines = [
      `if Map.has_key?(${stateName}, ${key}) do`,
      '  # The last run is still going: skip this tick.',
      `  {:noreply, ${stateName}}`,
      'else',
      // Every line of a multi-line element moves in too (a moved statement keeps its own layout).
      ...lines.map((l) => l.split('\n').map((x) => (x ? `  ${x}` : x)).join('\n')),
      'end',
    ];
    if (plan.periodic!.hoist) lines = [...dedentBy(plan.periodic!.reschedule.text, indentAt(text, plan.periodic!.reschedule.startIndex)).split('\n'), '', ...lines];
  }
  const generated = lines.map((l, i) => (i === 0 || l === '' ? l : bodyIndent + l)).join('\n');

  const last = statements[statements.length - 1];
  if (clause.oneLiner) {
    const keywords = clause.body!.parent!.parent!;
    const comma = keywords.previousSibling!;
    const defIndent = indentAt(text, clause.node.startIndex);
    edits.push({ file: file.path, start: comma.startIndex, end: keywords.endIndex, text: ` do\n${bodyIndent}${generated}\n${defIndent}end` });
  } else {
    const start = spanEnd > spanStart ? movedStart : last.startIndex;
    edits.push({ file: file.path, start, end: last.endIndex, text: generated });
  }

  if (!direct) edits.push(continuationClause(file, plan, { fromName, tag, key, stateName }));
  if (mode === 'noreply') {
    const logger = requireLogger(file, mod);
    if (logger) edits.push(logger);
  }
  edits.push(...supervisor.edits);
  return { edits, notes: [...supervisor.notes, ...plan.risks.map((r) => `risk: ${r}`)] };
}

/** The state key that holds the monitor of the running periodic task (`:refresh_task`). */
function runningKey(tag: string, mod: ModuleDef): string {
  const base = tag.slice(1).replace(/_result(_\d+)?$/, '');
  for (let i = 1; ; i++) {
    const name = i === 1 ? `${base}_task` : `${base}_task_${i}`;
    if (!new RegExp(`\\b${name}\\b`).test(mod.body.text)) return `:${name}`;
  }
}

/** `require Logger` after the module's `use GenServer`, unless the module already requires it. */
function requireLogger(file: FileModel, mod: ModuleDef): Edit | undefined {
  if (/^\s*require Logger\b/m.test(mod.body.text)) return undefined;
  const use = [...mod.uses.values()][0];
  if (!use) return undefined;
  return { file: file.path, start: use.endIndex, end: use.endIndex, text: `\n${indentAt(file.text, use.startIndex)}require Logger` };
}

/** Start of the comment lines directly above a statement (no blank line between), else the statement. */
function attachedCommentsStart(text: string, statement: SyntaxNode): number {
  let start = statement.startIndex;
  for (let prev = statement.previousSibling; prev?.type === 'comment'; prev = prev.previousSibling) {
    if (/\n[ \t]*\n/.test(text.slice(prev.endIndex, start))) break;
    start = prev.startIndex;
  }
  return start;
}

/** The `handle_info` clause that runs the rest of the original clause in the server (and replies). */
function continuationClause(file: FileModel, plan: Plan, names: { fromName?: string; tag: string; key?: string; stateName: string }): Edit {
  const { clause, statements, spanEnd, reply, newState, carried } = plan;
  const mod = clause.fn.module;
  const suffix = statements.slice(spanEnd, -1);
  const text = file.text;
  const last = statements[statements.length - 1];
  // Everything between the moved statements and the final tuple, comments included.
  const restStart = spanEnd > 0 ? statements[spanEnd - 1].endIndex : last.startIndex;
  let rest = suffix.length ? text.slice(restStart, suffix[suffix.length - 1].endIndex).replace(/^\s*\n/, '').trim() : '';
  // A hoisted reschedule now runs before the work: drop it (and its line) from what follows it.
  if (plan.periodic?.hoist) {
    const r = plan.periodic.reschedule;
    rest = (text.slice(restStart, r.startIndex) + text.slice(r.endIndex, suffix[suffix.length - 1].endIndex).replace(/^[ \t]*\n/, ''))
      .replace(/^\s*\n/, '')
      .replace(/\n[ \t]*\n[ \t]*\n/g, '\n\n')
      .trim();
  }
  const between = suffix.length ? text.slice(suffix[suffix.length - 1].endIndex, last.startIndex) : '';
  const restIndent = suffix.length ? indentAt(text, suffix[0].startIndex) : '';
  const used = variablesRead([...suffix, ...(reply ? [reply] : []), newState]);
  if (names.key) used.add(names.stateName);
  const body = [
    ...(names.key ? [`Process.demonitor(ref, [:flush])`, `${names.stateName} = Map.delete(${names.stateName}, ${names.key})`] : []),
    ...(rest ? [dedentBy(rest, restIndent) + (/\n\s*\n/.test(between) ? '\n' : '')] : []),
    ...(reply && names.fromName ? [`GenServer.reply(${names.fromName}, ${dedentBy(reply.text, restIndent)})`] : []),
    `{:noreply, ${dedentBy(newState.text, restIndent)}}`,
  ];
  const pattern = [names.tag, ...(names.fromName ? [names.fromName] : []), ...carried].join(', ');
  const stateHead = statePattern(text, plan.stateParam, used);
  const head = `def handle_info({${pattern}}, ${names.key ? `%{${names.key.slice(1)}: ref} = ${stateHead}` : stateHead}) do`;
  let code = [head, ...body.map((b) => indentLines(b, '  ')), 'end'].join('\n');
  if (names.key) {
    const label = `${clause.params[0].text.replace(/\s+/g, ' ')} work`;
    code += [
      '',
      '',
      '# The work crashed or was killed: log it; the loop goes on with the next tick.',
      `def handle_info({:DOWN, ref, :process, _pid, reason}, %{${names.key.slice(1)}: ref} = ${names.stateName}) do`,
      `  Logger.error("${mod.name}: ${label.replace(/"/g, '\\"')} failed: #{inspect(reason)}")`,
      `  {:noreply, Map.delete(${names.stateName}, ${names.key})}`,
      'end',
    ].join('\n');
  }
  const placement = handleInfoPlacement(file, mod, clause.fn);
  if (placement.newFunction) code += `\n\n${LOGGING_CATCH_ALL}`;
  return { file: file.path, start: placement.offset, end: placement.offset, text: clauseText(code, memberIndent(file, mod), placement, mod.usesImpl) };
}

/** The callback's state pattern for the new clause, with variables it no longer reads underscored. */
function statePattern(text: string, param: SyntaxNode, used: Set<string>): string {
  if (param.type === 'identifier') return used.has(param.text) || param.text.startsWith('_') ? param.text : `_${param.text}`;
  const name = stateVariable(param);
  if (name && ![...patternVariables(param)].some((v) => v !== name && used.has(v))) return used.has(name) ? name : `_${name}`;
  return underscoreUnused(param, used);
}

function dedentBy(code: string, indent: string): string {
  if (!indent) return code;
  return code
    .split('\n')
    .map((l, i) => (i > 0 && l.startsWith(indent) ? l.slice(indent.length) : l))
    .join('\n');
}
