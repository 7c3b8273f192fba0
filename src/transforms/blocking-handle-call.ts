import { fnLabel, finding } from '../core/findings.js';
import {
  blockingMatcher,
  codeBlocking,
  DEFAULT_BLOCKING_CALLS,
  describeEvidence,
  evidenceWeight,
  type BlockingEvidence,
  type BlockingMatcher,
} from '../core/model/blocking.js';
import type { Clause, FileModel, ModuleDef } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import { applicationChildren, taskSupervisors } from '../core/model/supervision.js';
import { freshName, identifiersIn, patternVariables, statementBindings, variablesRead } from '../core/model/vars.js';
import type { SyntaxNode } from '../core/parse.js';
import { atomValue, binaryOperator, codeChildren, descendants, indentAt, indentLines } from '../core/query.js';
import {
  addListElementFirst,
  bodyStatements,
  clauseText,
  memberIndent,
  newClausePlacement,
  reindentTail,
  replaceNode,
} from '../core/rewrite.js';
import type { Edit, FixResult, Transform } from '../core/types.js';

interface Options {
  blockingCalls: string[];
  taskSupervisor: string;
  maxChildren: number;
}

interface Data {
  clause: Clause;
  evidence: BlockingEvidence[];
}

const rule: Transform<Options> = {
  id: 'blocking-handle-call',
  title: 'Blocking work inside handle_call',
  severity: 'high',
  seedRef: '5.1',
  fixSafety: 'review',
  risks: `Replies can now arrive in a different order than the calls, and the server handles other messages while the work runs: code that relied on the server being busy (implicit serialization of the external resource) no longer gets it. When the work raises, exits or throws, the caller receives \`{:error, {kind, reason}}\` instead of the server crashing; when the Task.Supervisor is at max_children, \`{:error, :max_children}\`. Callers that match only the success value will now see these tuples. A task killed from outside (brutal kill) cannot answer, and its caller times out.`,
  options: {
    blockingCalls: {
      type: 'string[]',
      default: DEFAULT_BLOCKING_CALLS,
      description:
        'Calls that block, as `Module.function` patterns (`*` matches anything: `*.Repo.*`). Replaces the default list (HTTP clients, sockets, sleeps, Task.await/yield, System.cmd, File I/O, Ecto repos).',
    },
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
  },
  explanation: `
A GenServer handles one message at a time. When a \`handle_call/3\` clause waits on the network, the
disk, a port, a sleep or another task (\`Finch.request\`, \`Repo.all\`, \`Process.sleep\`,
\`Task.await\`...), directly or through helpers it calls, the whole server waits with it: every other
call, cast and message queues behind the slow one, and callers start timing out (5 s by default)
although the server is idle in all but name. Ten concurrent 200 ms requests take two seconds.

**The fix: a deferred reply.** \`handle_call\` returns \`{:noreply, state}\` at once and the blocking
work runs in a task under a \`Task.Supervisor\`; the caller still blocks in \`GenServer.call\` until
the task answers it with \`GenServer.reply(from, result)\`. The server stays free for other messages.

- When the clause computes the new state from the result (stats, caches), that part still runs in
  the server: the task sends the result back, and a new \`handle_info\` clause (placed before any
  catch-all) updates the state and replies. The variables it needs travel in the message.
- **Failures are defined:** if the work raises, exits or throws, the caller gets
  \`{:error, {kind, reason}}\` at once (not a timeout), the task crashes so the Task.Supervisor logs
  the error, and the server keeps running with its state unchanged.
- **Overload is defined:** when the Task.Supervisor is at \`max_children\`, the caller gets
  \`{:error, :max_children}\` immediately.
- If the project starts no \`Task.Supervisor\`, the fix adds
  \`{Task.Supervisor, name: MyApp.TaskSupervisor, max_children: 1000}\` to the application's children.

The work no longer runs inside the server, so it must not depend on being there. otpfix leaves a
clause alone (detect only, and says why) when the work uses \`self()\`, the process dictionary or ETS
tables the server owns, waits in \`receive\` (that reads the server's own mailbox), or when the clause
does not end in a single \`{:reply, value, state}\`. Consider also whether ordering matters: replies
may now arrive in a different order than the calls.

Before:
\`\`\`elixir
def handle_call({:fetch, sku}, _from, state) do
  result = Supplier.HTTP.get_price(sku)
  {:reply, result, state}
end
\`\`\`
After:
\`\`\`elixir
def handle_call({:fetch, sku}, from, state) do
  work = fn ->
    try do
      result = Supplier.HTTP.get_price(sku)
      GenServer.reply(from, result)
    catch
      kind, reason ->
        GenServer.reply(from, {:error, {kind, reason}})
        :erlang.raise(kind, reason, __STACKTRACE__)
    end
  end

  case Task.Supervisor.start_child(MyApp.TaskSupervisor, work) do
    {:ok, _pid} -> {:noreply, state}
    {:error, reason} -> {:reply, {:error, reason}, state}
  end
end
\`\`\`
`,

  detect({ file, project, options }) {
    const matches = matcherFor(project, options.blockingCalls);
    const out = [];
    for (const mod of file.modules) {
      if (!mod.kinds.has('genserver') && !mod.kinds.has('gen_stage')) continue;
      const handleCall = mod.functions.get('handle_call/3');
      if (!handleCall || handleCall.kind !== 'def') continue;
      for (const clause of handleCall.clauses) {
        if (!clause.body) continue;
        const evidence = codeBlocking(clause, clause.body, matches);
        if (!evidence.length) continue;
        const plan = planDeferredReply(clause, evidence, matches);
        const msg = clause.params[0]?.text.replace(/\s+/g, ' ') ?? '';
        const why = evidence.slice(0, 3).map(describeEvidence).join(', ');
        // Network, database, sleeps and awaits are high; local disk and waits on the own mailbox
        // (often deliberate synchronization) are real but usually shorter.
        const weights = new Set(evidence.map(evidenceWeight));
        const severity = weights.has('wait') ? 'high' : 'medium';
        const note = weights.has('wait')
          ? ''
          : weights.has('disk')
            ? ' Local disk I/O is usually quick; it hurts on slow or network file systems and large files.'
            : ' It waits for messages; if that is deliberate synchronization, keep the wait short.';
        out.push(
          finding(rule, file.path, {
            node: clause.head,
            key: `${fnLabel(handleCall)}:${msg}${clause.guard ? ` when ${clause.guard.text}` : ''}`,
            fixable: !('reason' in plan),
            severity,
            message:
              `handle_call(${msg}, ...) blocks the ${mod.name} process on ${why}: while it waits, every other call, ` +
              `cast and message to this server queues behind it, and callers time out after 5 s by default.${note}` +
              ('reason' in plan ? ` Not rewritten automatically: ${plan.reason}.` : ''),
            data: { clause, evidence } satisfies Data,
          }),
        );
      }
    }
    return out;
  },

  fix(f, { file, project, options }) {
    const { clause, evidence } = f.data as Data;
    const plan = planDeferredReply(clause, evidence, matcherFor(project, options.blockingCalls));
    if ('reason' in plan) return { skip: plan.reason };
    return deferredReplyEdits(file, project, options, plan);
  },
};

export default rule;

function matcherFor(project: ProjectIndex, patterns: string[]): BlockingMatcher {
  return project.memo(`blocking-matcher:${JSON.stringify(patterns)}`, () => blockingMatcher(patterns));
}

export interface Plan {
  clause: Clause;
  statements: SyntaxNode[];
  /** Index of the first statement that moves into the task (== statements.length - 1 when only the reply value blocks). */
  spanStart: number;
  /** Index after the last moved statement. */
  spanEnd: number;
  reply: SyntaxNode;
  newState: SyntaxNode;
  /** The task answers the caller itself (no state update needs the result). */
  direct: boolean;
  /** Variables the server-side continuation needs from the handle_call scope. */
  carried: string[];
  fromParam: SyntaxNode;
  stateParam: SyntaxNode;
}

const UNSAFE_IN_TASK: Record<string, string> = {
  self: 'it calls self(), which in a task is the task, not the server',
  'Process.get': 'it reads the process dictionary, which belongs to the server',
  'Process.put': 'it writes the process dictionary, which belongs to the server',
  'Process.delete': 'it writes the process dictionary, which belongs to the server',
  'GenServer.reply': 'the clause already replies with GenServer.reply',
};

/** Whether and how a clause can be rewritten to a deferred reply; a reason when it cannot. */
export function planDeferredReply(clause: Clause, evidence: BlockingEvidence[], matches: BlockingMatcher): Plan | { reason: string } {
  if (evidence.some((e) => e.receive))
    return { reason: "it waits in `receive`, which reads this server's own mailbox; in a task it would read the task's" };
  const statements = bodyStatements(clause);
  const last = statements[statements.length - 1];
  const tuple = last?.type === 'tuple' ? codeChildren(last) : [];
  if (tuple.length !== 3 || tuple[0].text !== ':reply')
    return { reason: 'the clause does not end in one {:reply, value, state} tuple (it returns from several branches, or a variable)' };
  const [, reply, newState] = tuple;
  const [, fromParam, stateParam] = clause.params;
  if (fromParam?.type !== 'identifier') return { reason: 'its `from` parameter is a pattern' };
  if (codeBlocking(clause, newState, matches).length) return { reason: 'the blocking call computes the new state itself' };

  const blocking = statements.slice(0, -1).map((s) => codeBlocking(clause, s, matches).length > 0);
  const first = blocking.indexOf(true);
  const spanStart = first === -1 ? statements.length - 1 : first;
  const spanEnd = first === -1 ? spanStart : blocking.lastIndexOf(true) + 1;
  const moved = [...statements.slice(spanStart, spanEnd), ...(codeBlocking(clause, reply, matches).length ? [reply] : [])];

  const unsafe = unsafeInTask(clause, moved);
  if (unsafe) return { reason: unsafe };
  const stateName = stateVariable(stateParam);
  const spanBound = new Set(statements.slice(spanStart, spanEnd).flatMap((s) => [...statementBindings(s)]));
  if (stateName && spanBound.has(stateName)) return { reason: 'the blocking statements rebind the state variable' };
  for (const node of moved)
    for (const n of descendants(node, ['string', 'charlist', 'sigil']))
      if ((n.type === 'string' || n.type === 'charlist' || n.type === 'sigil') && n.startPosition.row !== n.endPosition.row && !/^("""|'''|~\w""")/.test(n.text))
        return { reason: 'it holds a multi-line string that re-indenting would change' };

  const suffix = statements.slice(spanEnd, -1);
  const readByState = variablesRead([newState]);
  const direct = suffix.length === 0 && ![...spanBound].some((v) => readByState.has(v));
  const bound = new Set([
    ...patternVariables(clause.params[0]),
    ...statements.slice(0, spanStart).flatMap((s) => [...statementBindings(s)]),
    ...spanBound,
  ]);
  const stateVars = stateParam ? patternVariables(stateParam) : new Set<string>();
  const carried = direct
    ? []
    : orderOfUse([...suffix, reply, newState]).filter((v) => bound.has(v) && !stateVars.has(v) && v !== fromParam.text);
  return { clause, statements, spanStart, spanEnd, reply, newState, direct, carried, fromParam, stateParam };
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
  const queue = clause.calls.filter((s) => inMoved(s.node) && !s.spawned).map((s) => s);
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
    for (const n of descendants(node, ['identifier'])) if (n.type === 'identifier' && read.has(n.text) && !seen.includes(n.text)) seen.push(n.text);
  return seen;
}

function messageTag(clause: Clause, mod: ModuleDef): string {
  const msg = clause.params[0];
  const first = msg?.type === 'tuple' ? codeChildren(msg)[0] : msg;
  const tag = atomValue(first);
  const base = tag && /^[a-z_][a-zA-Z0-9_]*$/.test(tag) ? `${tag}_result` : 'deferred_reply';
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
function chooseTaskSupervisor(mod: ModuleDef, project: ProjectIndex, options: Options): SupervisorChoice {
  const top = topNamespace(mod.name);
  const existing = taskSupervisors(project);
  const own = existing.find((s) => topNamespace(s.module.name) === top) ?? existing[0];
  if (own) return { code: own.code, edits: [], notes: [] };
  const apps = applicationChildren(project);
  const app = apps.find((a) => topNamespace(a.module.name) === top) ?? apps[0];
  const limit = options.maxChildren;
  if (app && !options.taskSupervisor) {
    const code = `${app.module.name.replace(/\.Application$/, '')}.TaskSupervisor`;
    const edit = addListElementFirst(app.file, app.list, `{Task.Supervisor, name: ${code}, max_children: ${limit}}`);
    if (edit) return { code, edits: [edit], notes: [`adds ${code} (max_children: ${limit}) to ${app.module.name}'s children`] };
  }
  const code = options.taskSupervisor || `${top}.TaskSupervisor`;
  return {
    code,
    edits: [],
    notes: [`no Task.Supervisor found: add {Task.Supervisor, name: ${code}, max_children: ${limit}} to your supervision tree, before ${mod.name}`],
  };
}

function deferredReplyEdits(file: FileModel, project: ProjectIndex, options: Options, plan: Plan): FixResult {
  const { clause, statements, spanStart, spanEnd, reply, newState, direct, carried } = plan;
  const mod = clause.fn.module;
  const text = file.text;
  const taken = identifiersIn(clause.node);
  const edits: Edit[] = [];

  let fromName = plan.fromParam.text;
  if (fromName.startsWith('_')) {
    fromName = freshName(['from', 'caller'], taken);
    edits.push(replaceNode(file, plan.fromParam, fromName));
  }
  // Head variables the rewritten handle_call no longer reads get a `_` (they moved to the continuation).
  const stillRead = variablesRead([
    ...(clause.guard ? [clause.guard] : []),
    ...statements.slice(0, spanEnd),
    ...(direct ? [reply, newState] : []),
  ]);
  for (const v of carried) stillRead.add(v);
  const [messageParam] = clause.params;
  const newMessage = underscoreUnused(text, messageParam, stillRead);
  if (newMessage !== messageParam.text) edits.push(replaceNode(file, messageParam, newMessage));
  let stateName = stateVariable(plan.stateParam);
  const freshState = !stateName || stateName.startsWith('_') ? freshName(['state', 'server_state'], taken) : undefined;
  if (stateName && !freshState) stillRead.add(stateName);
  let newStateParam = underscoreUnused(text, plan.stateParam, stillRead);
  if (freshState) {
    newStateParam = stateName ? freshState : `${newStateParam} = ${freshState}`;
    stateName = freshState;
  }
  if (newStateParam !== plan.stateParam.text) edits.push(replaceNode(file, plan.stateParam, newStateParam));
  const supervisor = chooseTaskSupervisor(mod, project, options);
  const serverName = freshName(['server', 'server_pid'], taken);
  const workName = freshName(['work', 'deferred_work'], taken);
  const tag = messageTag(clause, mod);

  const bodyIndent = clause.oneLiner ? indentAt(text, clause.node.startIndex) + '  ' : indentAt(text, statements[0].startIndex);
  // Comments directly above the first moved statement move with it.
  const movedStart = spanEnd > spanStart ? attachedCommentsStart(statements[spanStart]) : -1;
  const moved = spanEnd > spanStart ? reindentTail(text.slice(movedStart, statements[spanEnd - 1].endIndex), '    ') : '';
  const blankBeforeFinish = spanEnd > spanStart && /\n[ \t]*\n/.test(text.slice(statements[spanEnd - 1].endIndex, statements[spanEnd].startIndex));
  const replyInTask = reindentTail(reply.text, '    ');
  const finish = direct
    ? `GenServer.reply(${fromName}, ${replyInTask})`
    : `send(${serverName}, {${[tag, fromName, ...carried].join(', ')}})`;
  const okState = direct ? newState.text : stateName;
  const lines = [
    ...(direct ? [] : [`${serverName} = self()`, '']),
    `${workName} = fn ->`,
    '  try do',
    ...(moved ? [`    ${moved}`] : []),
    ...(blankBeforeFinish ? [''] : []),
    `    ${finish}`,
    '  catch',
    '    kind, reason ->',
    `      GenServer.reply(${fromName}, {:error, {kind, reason}})`,
    '      :erlang.raise(kind, reason, __STACKTRACE__)',
    '  end',
    'end',
    '',
    `case Task.Supervisor.start_child(${supervisor.code}, ${workName}) do`,
    `  {:ok, _pid} -> {:noreply, ${okState}}`,
    `  {:error, reason} -> {:reply, {:error, reason}, ${stateName}}`,
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
  edits.push(...supervisor.edits);
  return { edits, notes: supervisor.notes };
}

/** Start of the comment lines directly above a statement (no blank line between), else the statement. */
function attachedCommentsStart(statement: SyntaxNode): number {
  let start = statement.startIndex;
  for (let prev = statement.previousSibling; prev?.type === 'comment'; prev = prev.previousSibling) {
    const gap = statement.tree.rootNode.text.slice(prev.endIndex, start);
    if (/\n[ \t]*\n/.test(gap)) break;
    start = prev.startIndex;
  }
  return start;
}

/** The `handle_info` clause that runs the rest of the original clause in the server, then replies. */
function continuationClause(file: FileModel, plan: Plan, names: { fromName: string; tag: string }): Edit {
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
  const used = variablesRead([...suffix, reply, newState]);
  const body = [
    ...(rest ? [dedentBy(rest, restIndent) + (/\n\s*\n/.test(between) ? '\n' : '')] : []),
    `GenServer.reply(${names.fromName}, ${dedentBy(reply.text, restIndent)})`,
    `{:noreply, ${dedentBy(newState.text, restIndent)}}`,
  ];
  const head = `def handle_info({${[names.tag, names.fromName, ...carried].join(', ')}}, ${statePattern(text, plan.stateParam, used)}) do`;
  const code = [head, ...body.map((b) => indentLines(b, '  ')), 'end'].join('\n');
  const placement = newClausePlacement(file, mod, 'handle_info/2', mod.functions.get('handle_call/3'));
  return { file: file.path, start: placement.offset, end: placement.offset, text: clauseText(code, memberIndent(file, mod), placement, mod.usesImpl) };
}

/** The handle_call state pattern for the new clause, with variables it no longer reads underscored. */
function statePattern(text: string, param: SyntaxNode, used: Set<string>): string {
  if (param.type === 'identifier') return used.has(param.text) || param.text.startsWith('_') ? param.text : `_${param.text}`;
  const name = stateVariable(param);
  if (name && ![...patternVariables(param)].some((v) => v !== name && used.has(v))) return used.has(name) ? name : `_${name}`;
  return underscoreUnused(text, param, used);
}

/** A pattern's text with every variable not in `used` prefixed by `_` (so the compiler stays quiet). */
function underscoreUnused(text: string, param: SyntaxNode, used: Set<string>): string {
  const vars = patternVariables(param);
  let out = '';
  let pos = param.startIndex;
  for (const n of descendants(param, ['identifier'])) {
    if (n.type !== 'identifier' || !vars.has(n.text) || used.has(n.text)) continue;
    if (n.parent?.type === 'call' && n.parent.childForFieldName('target')?.id === n.id) continue;
    if (n.parent?.type === 'dot' && n.parent.childForFieldName('right')?.id === n.id) continue;
    out += text.slice(pos, n.startIndex) + `_${n.text}`;
    pos = n.endIndex;
  }
  return out + text.slice(pos, param.endIndex);
}

function dedentBy(code: string, indent: string): string {
  if (!indent) return code;
  return code
    .split('\n')
    .map((l, i) => (i > 0 && l.startsWith(indent) ? l.slice(indent.length) : l))
    .join('\n');
}
