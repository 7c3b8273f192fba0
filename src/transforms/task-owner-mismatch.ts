import { finding, fnLabel } from '../core/findings.js';
import { siteName, uniqueFunctions, type CallSite, type Clause, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import { tailsOf, tupleItems, tupleTag } from '../core/model/returns.js';
import type { SyntaxNode } from '../core/parse.js';
import { binaryOperator, descendants } from '../core/query.js';
import { bodyStatements } from '../core/rewrite.js';
import type { Finding, Transform } from '../core/types.js';

/** Calls returning a `%Task{}` that only the calling process may await. */
const TASK_CREATORS = /^(Task\.async|Task\.Supervisor\.async|Task\.Supervisor\.async_nolink)$/;

const rule: Transform = {
  id: 'task-owner-mismatch',
  title: 'Task handed to a process that cannot await it',
  severity: 'high',
  fixSafety: 'none',
  options: {},
  explanation: `
**Detect only.** A \`%Task{}\` from \`Task.async\` / \`Task.Supervisor.async(_nolink)\` belongs to the
process that created it: the task sends its result (\`{ref, result}\`) and the monitor's \`:DOWN\` to that
owner, and \`Task.await/yield\` raise \`ArgumentError\` ("task ... must be queried from the owner but was
queried from ...") anywhere else.

- **Created in the server, returned to the caller** (\`{:reply, task, state}\` in \`handle_call\`,
  \`GenServer.reply(from, task)\`): the caller cannot await it, and the result lands in the server's
  mailbox as an unexpected message.
- **Created in the caller, sent to the server** (\`GenServer.call(server, {:watch, task})\`): the server
  cannot await it, and the result goes to a caller that may have moved on.

Let the process that needs the result create the task. For work started by a server on behalf of a
caller, use the deferred reply: \`Task.Supervisor.async_nolink\` in \`handle_call\`, return
\`{:noreply, state}\`, keep \`from\` by the task's ref, and \`GenServer.reply(from, result)\` in
\`handle_info({ref, result}, state)\` (and answer the caller on \`{:DOWN, ref, ...}\`).

Before:
\`\`\`elixir
def handle_call({:fetch, url}, _from, state) do
  {:reply, Task.async(fn -> HTTP.get(url) end), state}
end
\`\`\`
After:
\`\`\`elixir
def handle_call({:fetch, url}, from, state) do
  task = Task.Supervisor.async_nolink(MyApp.TaskSup, fn -> HTTP.get(url) end)
  {:noreply, put_in(state.waiting[task.ref], from)}
end
\`\`\`
`,

  detect({ file }) {
    const out: Finding[] = [];
    for (const mod of file.modules)
      for (const fn of uniqueFunctions(mod))
        for (const clause of fn.clauses) {
          if (!clause.body) continue;
          for (const site of clause.calls) {
            if (site.capture || site.spawned || !TASK_CREATORS.test(siteName(site))) continue;
            const leak = fn.context === 'server' ? toCaller(site, clause) : fn.context === 'caller' ? toServer(site, clause) : undefined;
            if (!leak) continue;
            out.push(
              finding(rule, file.path, {
                node: site.node,
                key: `${fnLabel(fn)}:${siteName(site)}:${leak.how}`,
                fixable: false,
                severity: leak.certain ? undefined : 'medium',
                message: message(mod, fn, site, leak),
              }),
            );
          }
        }
    return out;
  },
};

export default rule;

interface Leak {
  how: string;
  where: SyntaxNode;
  certain: boolean;
}

/** The names the task is bound to (`task = Task.async(...)`), plus the call itself. */
function holders(site: CallSite): { node: SyntaxNode; names: Set<string> } {
  let expr = site.node;
  while (expr.parent && binaryOperator(expr.parent) === '|>') expr = expr.parent;
  const parent = expr.parent;
  const names = new Set<string>();
  if (parent && binaryOperator(parent) === '=' && parent.childForFieldName('right')?.id === expr.id) {
    const left = parent.childForFieldName('left');
    if (left?.type === 'identifier') names.add(left.text);
  }
  return { node: expr, names };
}

function contains(expr: SyntaxNode | undefined, task: { node: SyntaxNode; names: Set<string> }): boolean {
  if (!expr) return false;
  if (task.node.startIndex >= expr.startIndex && task.node.endIndex <= expr.endIndex) return true;
  return [...descendants(expr, ['identifier'])].some((n) => task.names.has(n.text));
}

/** Server side: the task ends up in a reply to the caller, or in a message to another process. */
function toCaller(site: CallSite, clause: Clause): Leak | undefined {
  const task = holders(site);
  if (clause.fn.name === 'handle_call')
    for (const tail of tailsOf(bodyStatements(clause)).nodes)
      if (tupleTag(tail) === 'reply' && contains(tupleItems(tail)?.[1], task)) return { how: 'reply', where: tail, certain: true };
  for (const other of clause.calls) {
    const name = siteName(other);
    if (name === 'GenServer.reply' && contains(other.args[1], task)) return { how: 'GenServer.reply', where: other.node, certain: true };
    if ((name === 'send' || name === 'Kernel.send') && other.args[0]?.text !== 'self()' && contains(other.args[1], task))
      return { how: 'send', where: other.node, certain: false };
  }
  return undefined;
}

/** Caller side: the task is put in a message to a GenServer. */
function toServer(site: CallSite, clause: Clause): Leak | undefined {
  const task = holders(site);
  for (const other of clause.calls) {
    const name = siteName(other);
    if (/^GenServer\.(call|cast)$/.test(name) && contains(other.args[1], task)) return { how: name, where: other.node, certain: false };
  }
  return undefined;
}

function message(mod: ModuleDef, fn: FunctionDef, site: CallSite, leak: Leak): string {
  const line = leak.where.startPosition.row + 1;
  if (leak.how === 'reply' || leak.how === 'GenServer.reply')
    return (
      `${fnLabel(fn)} creates a task with ${siteName(site)} in the ${mod.name} process and hands it to the caller (${leak.how === 'reply' ? '{:reply, ...}' : 'GenServer.reply'} at line ${line}). ` +
      `Only the owner can await a task: Task.await in the caller raises ArgumentError, and the result and :DOWN arrive in ${mod.name}'s mailbox instead. Reply with the result (deferred reply) or let the caller start the task.`
    );
  if (leak.how === 'send')
    return `${fnLabel(fn)} creates a task with ${siteName(site)} in the ${mod.name} process and sends it to another process (line ${line}), which cannot await it: only the owner can. Send the result instead.`;
  return (
    `${fnLabel(fn)} runs in the caller, creates a task with ${siteName(site)} and passes it to a server with ${leak.how} (line ${line}). ` +
    `The server cannot await it (only the owner can; Task.await raises ArgumentError there), and the result goes back to this caller's mailbox. Start the task in the process that awaits it.`
  );
}
