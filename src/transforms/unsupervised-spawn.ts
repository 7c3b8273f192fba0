import { finding, fnLabel } from '../core/findings.js';
import { isProcessModule, sameProcessCallees, siteName, uniqueFunctions, type CallSite, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import { binaryOperator } from '../core/query.js';
import type { Finding, Transform } from '../core/types.js';

/** Process-starting calls that put the new process under no supervisor; `linked` ones die with the caller. */
const SPAWNS: Record<string, 'unlinked' | 'linked' | 'monitored'> = {
  spawn: 'unlinked',
  'Kernel.spawn': 'unlinked',
  'Process.spawn': 'unlinked',
  ':erlang.spawn': 'unlinked',
  ':proc_lib.spawn': 'unlinked',
  'Task.start': 'unlinked',
  spawn_link: 'linked',
  'Kernel.spawn_link': 'linked',
  ':erlang.spawn_link': 'linked',
  ':proc_lib.spawn_link': 'linked',
  'Task.start_link': 'linked',
  spawn_monitor: 'monitored',
  'Kernel.spawn_monitor': 'monitored',
  ':erlang.spawn_monitor': 'monitored',
};

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
only logged), and each restart of the server can leave one more behind. A linked one dies with the
server, but its crash also takes the server down, and it gets no shutdown time.

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

  detect({ file }) {
    const out: Finding[] = [];
    for (const mod of file.modules) {
      const where = runsInProcess(mod);
      for (const fn of where) {
        let n = 0;
        for (const clause of fn.clauses)
          for (const site of clause.calls) {
            const kind = spawnKind(site);
            if (!kind) continue;
            const monitored = kind === 'monitored' || monitoredAfter(site, fn);
            out.push(
              finding(rule, file.path, {
                node: site.node,
                key: `${fnLabel(fn)}:${siteName(site)}#${n++}`,
                fixable: false,
                severity: kind === 'unlinked' && !monitored ? undefined : 'low',
                message: message(mod, fn, site, kind, monitored),
              }),
            );
          }
      }
    }
    return out;
  },
};

export default rule;

function spawnKind(site: CallSite): 'unlinked' | 'linked' | 'monitored' | undefined {
  if (site.capture || site.spawned) return undefined;
  const name = siteName(site);
  if (name === 'Process.spawn' && site.args[site.args.length - 1]?.text.includes(':link')) return 'linked';
  return SPAWNS[name];
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

function message(mod: ModuleDef, fn: FunctionDef, site: CallSite, kind: string, monitored: boolean): string {
  const atStart = mod.kinds.has('application') && !isProcessModule(mod);
  const who = atStart ? `${fnLabel(fn)} runs during application start and` : `${fnLabel(fn)}, which runs in the ${mod.name} process,`;
  const base = `${who} starts a process with ${siteName(site)} under no supervisor`;
  const advice = 'Start it under a Task.Supervisor in the tree.';
  if (kind === 'linked')
    return `${base}. It is linked, so it dies with its starter, but its crash takes the starter down too and it gets no shutdown time. ${advice}`;
  if (monitored) return `${base}. Its starter monitors it, so a crash is seen, but nothing shuts it down with the application. ${advice}`;
  if (atStart) return `${base}: it is no part of the supervision tree, so it is not shut down when the application stops and its crashes are only logged. ${advice}`;
  return `${base}: it outlives ${mod.name}, is never shut down with the application, and its crashes are only logged; each restart of ${mod.name} can leave one more behind. ${advice}`;
}
