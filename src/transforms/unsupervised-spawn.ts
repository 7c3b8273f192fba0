import { finding, fnLabel } from '../core/findings.js';
import { isProcessModule, sameProcessCallees, siteName, uniqueFunctions, type CallSite, type Clause, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import { BLOCKING_CALLS, blockingCallsIn, costOf, describeBlocking, matchBlocking } from '../core/model/blocking.js';
import { calleeOf } from '../core/model/calls.js';
import { PROCESS_STARTS } from '../core/model/library.js';
import { pathInClause } from '../core/model/paths.js';
import type { ProjectIndex } from '../core/model/project.js';
import { binaryOperator, callIdentifier } from '../core/query.js';
import type { Finding, Transform } from '../core/types.js';

const rule: Transform = {
  id: 'unsupervised-spawn',
  title: 'Process spawned outside any supervisor',
  severity: 'medium',
  fixSafety: 'none',
  options: {},
  explanation: `
**Detect only.** \`spawn/1\`, \`Task.start/1\` and friends called from a GenServer's callbacks or from
\`Application.start/2\` start a process no supervisor knows about. An unlinked one outlives the server
that started it: nobody shuts it down when the application stops, nobody sees it crash (the error is
only logged), and each restart of the server can leave one more behind.

It is reported only when the spawned work can last: it waits on the network, a database, a sleep,
another node or a \`receive\` loop (directly or through the functions it calls; the library model in
\`src/core/model/library.ts\` says which calls wait). Short local work (sending a few messages, a
computation) ends on its own. A linked process (\`spawn_link\`, \`Task.start_link\`) dies with its
starter: a deliberate helper, not reported. Started only after an error or behind an option that is
off by default: low.

Start such work under a \`Task.Supervisor\` in the application's tree:
\`Task.Supervisor.start_child(MyApp.TaskSup, fn -> ... end)\` for fire-and-forget work (it gets a
shutdown, shows up in observer, and is limited by \`max_children\`), or
\`Task.Supervisor.async_nolink/2\` when the server wants the result as a message (\`{ref, result}\` and
\`{:DOWN, ...}\` in \`handle_info\`) without crashing with the task.

Silent for spawns inside a task that is already supervised (\`Task.Supervisor.start_child(sup, fn ->
spawn(...) end)\`): the supervised task owns that work.

Before:
\`\`\`elixir
def handle_cast({:notify, user}, state) do
  Task.start(fn -> Mailer.deliver(user) end)
  {:noreply, state}
end
\`\`\`
After:
\`\`\`elixir
def handle_cast({:notify, user}, state) do
  {:ok, _pid} = Task.Supervisor.start_child(MyApp.TaskSup, fn -> Mailer.deliver(user) end)
  {:noreply, state}
end
\`\`\`
`,

  detect({ file, project }) {
    const out: Finding[] = [];
    for (const mod of [...file.modules, ...(file.injected ?? [])]) {
      const where = runsInProcess(mod);
      for (const fn of where) {
        let n = 0;
        for (const clause of fn.clauses)
          for (const site of clause.calls) {
            const kind = spawnKind(site);
            // A linked process dies with its starter: a deliberate helper, not a leak.
            if (!kind || kind === 'linked') continue;
            const work = spawnedWork(site, clause, project);
            // Short local work (sending messages, a computation) ends on its own: nothing to supervise.
            if (!work) continue;
            const monitored = kind === 'monitored' || monitoredAfter(site, fn);
            const path = pathInClause(site.node, clause);
            const rare = path.kind !== 'normal' || !work.seen;
            out.push(
              finding(rule, file.path, {
                node: site.node,
                key: `${fnLabel(fn)}:${siteName(site)}#${n++}`,
                fixable: false,
                severity: !monitored && !rare ? undefined : 'low',
                message:
                  message(mod, fn, site, kind, monitored, work.what) +
                  (path.kind !== 'normal' ? ` It is only started on a rare path (${path.why}), so it is reported as low.` : ''),
              }),
            );
          }
      }
    }
    return out;
  },
};

/**
 * What the spawned process does that can outlive a moment: a wait on the network, a database, a
 * sleep or a `receive` loop, directly or in the functions it calls. Undefined for short local work.
 */
function spawnedWork(site: CallSite, clause: Clause, project: ProjectIndex): Work | undefined {
  const [from, to] = [site.node.startIndex, site.node.endIndex];
  let opaque: string | undefined;
  for (const inner of clause.calls) {
    if (inner === site || inner.node.startIndex < from || inner.node.endIndex > to) continue;
    const match = !inner.capture ? matchBlocking(inner, BLOCKING_CALLS) : undefined;
    const callee = calleeOf(inner, clause.fn.module, project);
    if (match && !(match.category === 'retry' && callee)) return { what: `${siteName(inner)} (${match.cost})`, seen: true };
    if (callee) {
      const wait = blockingCallsIn(callee, { project })[0];
      if (wait) return { what: `${describeBlocking({ ...wait, chain: [callee, ...wait.chain.slice(1)] })} (${costOf(wait)})`, seen: true };
    } else if (!opaque && (inner.dynamic || (inner.module && !isStandardModule(inner.module)))) opaque = inner.node.text.split('(')[0];
  }
  // `spawn(Mod, :fun, args)` / `Task.start(Mod, :fun, args)`.
  if (site.args.length === 3 && site.args[1]?.type === 'atom') {
    const mod = site.args[0].text === '__MODULE__' ? clause.fn.module : project.modules.get(site.args[0].text);
    const arity = site.args[2].type === 'list' ? site.args[2].namedChildren.length : undefined;
    const fn = arity !== undefined ? mod?.functions.get(`${site.args[1].text.slice(1)}/${arity}`) : undefined;
    const wait = fn && blockingCallsIn(fn, { project })[0];
    if (wait) return { what: `${describeBlocking(wait)} (${costOf(wait)})`, seen: true };
  }
  const loops = site.node.descendantsOfType('call').some((c) => callIdentifier(c) === 'receive');
  if (loops) return { what: 'a receive loop', seen: true };
  return opaque ? { what: `${opaque} (code otpfix cannot see, so whether it waits is not proven)`, seen: false } : undefined;
}

interface Work {
  what: string;
  /** The wait is in the library model or in scanned code (not presumed from an opaque call). */
  seen: boolean;
}

/** Elixir's and Erlang's standard modules (the waiting ones are in the library model). */
function isStandardModule(mod: string): boolean {
  if (mod.startsWith(':')) return true;
  return /^(Kernel|Enum|Stream|Map|MapSet|List|Keyword|String|Integer|Float|Atom|Tuple|Process|Logger|IO|Access|Base|Bitwise|Date|DateTime|NaiveDateTime|Time|Calendar|Path|Port|Node|Registry|Range|Regex|URI|System|Code|Function|Module|Application|Inspect|Jason|GenServer|Agent|Task|Supervisor|DynamicSupervisor|Phoenix\.PubSub)(\.|$)/.test(mod);
}

export default rule;

function spawnKind(site: CallSite): 'unlinked' | 'linked' | 'monitored' | undefined {
  if (site.capture || site.spawned) return undefined;
  const name = siteName(site);
  if (name === 'Process.spawn' && site.args[site.args.length - 1]?.text.includes(':link')) return 'linked';
  const start = PROCESS_STARTS[name];
  if (!start || start.supervised || start.tie === 'awaited' || name.startsWith('Agent.')) return undefined;
  return start.tie;
}

/** Server-context functions of process modules, and `Application.start/2` with what it calls. */
function runsInProcess(mod: ModuleDef): FunctionDef[] {
  if (isProcessModule(mod)) return uniqueFunctions(mod).filter((f) => f.context === 'server' || f.context === 'both');
  const start = mod.kinds.has('application') ? mod.functions.get('start/2') : undefined;
  if (!start) return [];
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length) for (const next of sameProcessCallees(queue.pop()!)) if (!seen.has(next)) (seen.add(next), queue.push(next));
  return [...seen];
}

/** `pid = spawn(...)` followed by `Process.monitor(pid)` in the same function. */
function monitoredAfter(site: CallSite, fn: FunctionDef): boolean {
  const parent = site.node.parent;
  const variable = parent && binaryOperator(parent) === '=' ? parent.childForFieldName('left')?.text : undefined;
  if (!variable) return false;
  return fn.clauses.some((c) => c.calls.some((s) => siteName(s) === 'Process.monitor' && s.args[0]?.text === variable));
}

function message(mod: ModuleDef, fn: FunctionDef, site: CallSite, kind: string, monitored: boolean, work: string): string {
  const atStart = mod.kinds.has('application') && !isProcessModule(mod);
  const who = atStart ? `${fnLabel(fn)} runs during application start and` : `${fnLabel(fn)}, which runs in the ${mod.name} process,`;
  const base = `${who} starts a process with ${siteName(site)} under no supervisor that waits on ${work}`;
  const advice = 'Start it under a Task.Supervisor in the tree.';
  if (kind === 'linked')
    return `${base}. It is linked, so it dies with its starter, but its crash takes the starter down too and it gets no shutdown time. ${advice}`;
  if (monitored) return `${base}. Its starter monitors it, so a crash is seen, but nothing shuts it down with the application. ${advice}`;
  if (atStart) return `${base}: it is no part of the supervision tree, so it is not shut down when the application stops and its crashes are only logged. ${advice}`;
  return `${base}: it outlives ${mod.name}, is never shut down with the application, and its crashes are only logged; each restart of ${mod.name} can leave one more behind. ${advice}`;
}
