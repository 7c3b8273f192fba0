import { finding, fnLabel } from '../core/findings.js';
import { isProcessModule, siteName, uniqueFunctions, type CallSite, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import type { Finding, Transform } from '../core/types.js';

const SUPERVISOR_STARTS = new Set([
  'Supervisor.start_link',
  'DynamicSupervisor.start_link',
  'Task.Supervisor.start_link',
  'PartitionSupervisor.start_link',
  ':supervisor.start_link',
]);

const rule: Transform = {
  id: 'unsupervised-supervisor',
  title: 'Supervisor started from a GenServer, outside the supervision tree',
  severity: 'medium',
  seedRef: '4.1',
  fixSafety: 'none',
  options: {},
  explanation: `
**Detect only.** A supervisor started with \`start_link\` from inside a GenServer's callbacks (typically
one pool supervisor per request or per configuration change) is linked to that GenServer but is not a
child of any supervisor. Nothing shuts it down in order when the application stops, nothing restarts it,
and every restart of the GenServer starts a new one while the old one may still be shutting down
(a name clash: \`{:error, {:already_started, pid}}\`). Its children leak with it.

Put the supervisors in the tree instead: add one \`DynamicSupervisor\` (with \`max_children\`) to the
application's children, start each pool supervisor *under* it with \`DynamicSupervisor.start_child/2\`,
and stop it with \`DynamicSupervisor.terminate_child/2\` (which honours its shutdown and waits). Register
pools in a \`Registry\` rather than by generated atom names. A \`PartitionSupervisor\` fits a fixed
number of pools.

Silent when the GenServer manages the lifecycle itself: it traps exits and stops the supervisor in
\`terminate/2\`.

Before:
\`\`\`elixir
def handle_call({:create_pool, name}, _from, state) do
  {:ok, sup} = DynamicSupervisor.start_link(strategy: :one_for_one)
  {:reply, :ok, put_in(state.pools[name], sup)}
end
\`\`\`
After:
\`\`\`elixir
# application.ex: children = [{DynamicSupervisor, name: MyApp.PoolSup, max_children: 100}, ...]
def handle_call({:create_pool, name}, _from, state) do
  {:ok, sup} = DynamicSupervisor.start_child(MyApp.PoolSup, {Task.Supervisor, max_children: 50})
  {:reply, :ok, put_in(state.pools[name], sup)}
end
\`\`\`
`,

  detect({ file, project }) {
    const out: Finding[] = [];
    for (const mod of file.modules) {
      if (!isProcessModule(mod) || mod.kinds.has('supervisor') || mod.kinds.has('dynamic_supervisor')) continue;
      if (managesLifecycle(mod)) continue;
      for (const fn of uniqueFunctions(mod)) {
        if (fn.context !== 'server' && fn.context !== 'both') continue;
        let n = 0;
        for (const clause of fn.clauses)
          for (const site of clause.calls) {
            const started = supervisorStarted(site, project);
            if (!started) continue;
            const named = isNamed(site, project);
            // Unnamed and started in init/1: an owned resource. The supervisor takes the server as its
            // parent and shuts its children down when the server exits; the server's restart makes a new one.
            if (!named && fn.name === 'init' && fn.isCallback) continue;
            out.push(
              finding(rule, file.path, {
                node: site.node,
                key: `${fnLabel(fn)}:${started}#${n++}`,
                fixable: false,
                severity: named ? undefined : 'low',
                message: message(mod, fn, started, named),
              }),
            );
          }
      }
    }
    return out;
  },
};

export default rule;

function supervisorStarted(site: CallSite, project: ProjectIndex): string | undefined {
  if (site.capture || site.spawned) return undefined;
  const name = siteName(site);
  if (SUPERVISOR_STARTS.has(name)) return name.replace(/\.start_link$/, '');
  if (site.name !== 'start_link' || !site.module) return undefined;
  const target = project.modules.get(site.module);
  return target && (target.kinds.has('supervisor') || target.kinds.has('dynamic_supervisor')) ? site.module : undefined;
}

/** Traps exits and stops what it started in terminate/2. */
function managesLifecycle(mod: ModuleDef): boolean {
  const calls = uniqueFunctions(mod).flatMap((f) => f.clauses.flatMap((c) => c.calls.map((s) => ({ f, name: siteName(s), site: s }))));
  const traps = calls.some((c) => c.name === 'Process.flag' && c.site.args[0]?.text === ':trap_exit' && c.site.args[1]?.text === 'true');
  const terminate = mod.functions.get('terminate/2');
  const stops = !!terminate && reachableCalls(terminate).some((n) => /^(Supervisor|DynamicSupervisor|GenServer)\.stop$|^Process\.exit$/.test(n));
  return traps && stops;
}

function reachableCalls(fn: FunctionDef, seen = new Set<FunctionDef>()): string[] {
  if (seen.has(fn)) return [];
  seen.add(fn);
  const out: string[] = [];
  for (const clause of fn.clauses)
    for (const site of clause.calls) {
      out.push(siteName(site));
      const local = !site.module || site.module === fn.module.name ? fn.module.functions.get(`${site.name}/${site.arity}`) : undefined;
      if (local) out.push(...reachableCalls(local, seen));
    }
  return out;
}

/** Registered under a name: given in the call's options, or by the supervisor module's own start_link. */
function isNamed(site: CallSite, project: ProjectIndex): boolean {
  if (site.args.some((a) => /(^|[\s,\[])name:/.test(a.text))) return true;
  const target = site.module ? project.modules.get(site.module) : undefined;
  const startLink = target?.functions.get(`start_link/${site.arity}`);
  return !!startLink && startLink.clauses.some((c) => /\bname:/.test(c.node.text));
}

function message(mod: ModuleDef, fn: FunctionDef, started: string, named: boolean): string {
  const base = `${fnLabel(fn)} runs in the ${mod.name} process and starts a ${started} with start_link: it is linked to that process but is no child of any supervisor in the tree`;
  if (named)
    return (
      `${base}, and it is registered under a name. When ${mod.name} restarts, the old one is still shutting down its children while the new ${mod.name} starts another under the same name ({:error, {:already_started, pid}}), ` +
      `and nothing stops one that is no longer needed. Start it under a DynamicSupervisor in the tree (start_child / terminate_child) instead.`
    );
  return (
    `${base}. It shuts down with ${mod.name} (its parent), but one is started each time this code runs outside init/1: ` +
    `it is real if an old one is not stopped when replaced. Prefer start_child under a DynamicSupervisor in the tree.`
  );
}
