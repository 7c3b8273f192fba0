/**
 * Deferred work: move the blocking statements of a GenServer callback into a task under a
 * Task.Supervisor, and run whatever needs their result back in the server, in a new `handle_info`
 * clause. For `handle_call` the caller is answered with `GenServer.reply/2` (a deferred reply); for
 * `handle_cast`/`handle_info`/`handle_continue` nobody waits, so the task only does the work.
 */
import { codeBlocking, type BlockingCall, type BlockingPattern } from './model/blocking.js';
import type { Clause, FileModel, ModuleDef } from './model/module.js';
import type { ProjectIndex } from './model/project.js';
import { applicationChildren, taskSupervisors } from './model/supervision.js';
import { freshName, identifiersIn, patternVariables, statementBindings, underscoreUnused, variablesRead } from './model/vars.js';
import type { SyntaxNode } from './parse.js';
import { atomValue, binaryOperator, codeChildren, descendants, indentAt, indentLines } from './query.js';
import {
  addListElementFirst,
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
      'Name of the Task.Supervisor to run the work under when the project starts none that otpfix can see and it finds no application module to add one to (default: <TopModule>.TaskSupervisor).',
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
}

const UNSAFE_IN_TASK: Record<string, string> = {
  self: 'it calls self(), which in a task is the task, not the server',
  'Process.get': 'it reads the process dictionary, which belongs to the server',
  'Process.put': 'it writes the process dictionary, which belongs to the server',
  'Process.delete': 'it writes the process dictionary, which belongs to the server',
  'GenServer.reply': 'the clause already replies with GenServer.reply',
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

  const suffix = statements.slice(spanEnd, -1);
  const readByState = variablesRead([newState]);
  const direct = suffix.length === 0 && ![...spanBound].some((v) => readByState.has(v));
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
  return { mode, clause, statements, spanStart, spanEnd, reply, newState, direct, carried, fromParam, stateParam };
}

function unsafeInTask(clause: Clause, moved: SyntaxNode[]): string | undefined {
  const inMoved = (n: SyntaxNode) => moved.some((m) => n.startIndex >= m.startIndex && n.endIndex <= m.endIndex);
  const check = (sites: Clause['calls']) => {
    for (const site of sites) {
      if (site.spawned || site.capture) continue;
      const name = site.module ? `${site.module}.${site.name}` : site.name;
      if (UNSAFE_IN_TASK[name] && (site.module || site.arity === 0)) return UNSAFE_IN_TASK[name];
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

function topNamespace(name: string): string {
  return name.split('.')[0];
}

/** The Task.Supervisor to run work under: one the project starts, else one added to the application. */
function chooseTaskSupervisor(mod: ModuleDef, project: ProjectIndex, options: DeferOptions): SupervisorChoice {
  const top = topNamespace(mod.name);
  const existing = taskSupervisors(project);
  const own = existing.find((s) => topNamespace(s.module.name) === top) ?? existing[0];
  if (own) return { code: own.code, edits: [], notes: [] };
  const apps = applicationChildren(project);
  const app = apps.find((a) => topNamespace(a.module.name) === top) ?? apps[0];
  const limit = options.maxChildren;
  if (app && !options.taskSupervisor) {
    const code = `${app.module.name.replace(/\.Application$/, '')}.TaskSupervisor`;
    const edits = addListElementFirst(app.file, app.list, `{Task.Supervisor, name: ${code}, max_children: ${limit}}`);
    if (edits) return { code, edits, notes: [`adds ${code} (max_children: ${limit}) to ${app.module.name}'s children`] };
  }
  const code = options.taskSupervisor || `${top}.TaskSupervisor`;
  return {
    code,
    edits: [],
    notes: [`no Task.Supervisor found: add {Task.Supervisor, name: ${code}, max_children: ${limit}} to your supervision tree, before ${mod.name}`],
  };
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
  const refused =
    mode === 'reply'
      ? [`  {:error, reason} -> {:reply, {:error, reason}, ${stateName}}`]
      : [
          '  {:error, reason} ->',
          `    Logger.warning("${mod.name}: could not start deferred work: #{inspect(reason)}")`,
          `    {:noreply, ${stateName}}`,
        ];
  const okBranch = mode === 'reply' ? [`  {:ok, _pid} -> {:noreply, ${okState}}`] : ['  {:ok, _pid} ->', `    {:noreply, ${okState}}`, ''];
  const lines = [
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

  if (!direct) edits.push(continuationClause(file, plan, { fromName, tag }));
  if (mode === 'noreply') {
    const logger = requireLogger(file, mod);
    if (logger) edits.push(logger);
  }
  edits.push(...supervisor.edits);
  return { edits, notes: supervisor.notes };
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
function continuationClause(file: FileModel, plan: Plan, names: { fromName?: string; tag: string }): Edit {
  const { clause, statements, spanEnd, reply, newState, carried } = plan;
  const mod = clause.fn.module;
  const suffix = statements.slice(spanEnd, -1);
  const text = file.text;
  const last = statements[statements.length - 1];
  // Everything between the moved statements and the final tuple, comments included.
  const restStart = spanEnd > 0 ? statements[spanEnd - 1].endIndex : last.startIndex;
  const rest = suffix.length ? text.slice(restStart, suffix[suffix.length - 1].endIndex).replace(/^\s*\n/, '').trim() : '';
  const between = suffix.length ? text.slice(suffix[suffix.length - 1].endIndex, last.startIndex) : '';
  const restIndent = suffix.length ? indentAt(text, suffix[0].startIndex) : '';
  const used = variablesRead([...suffix, ...(reply ? [reply] : []), newState]);
  const body = [
    ...(rest ? [dedentBy(rest, restIndent) + (/\n\s*\n/.test(between) ? '\n' : '')] : []),
    ...(reply && names.fromName ? [`GenServer.reply(${names.fromName}, ${dedentBy(reply.text, restIndent)})`] : []),
    `{:noreply, ${dedentBy(newState.text, restIndent)}}`,
  ];
  const pattern = [names.tag, ...(names.fromName ? [names.fromName] : []), ...carried].join(', ');
  const head = `def handle_info({${pattern}}, ${statePattern(text, plan.stateParam, used)}) do`;
  let code = [head, ...body.map((b) => indentLines(b, '  ')), 'end'].join('\n');
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
