import { finding } from '../core/findings.js';
import {
  describeHops,
  entrySite,
  namesOf,
  requestLabel,
  serverOf,
  syncCallsOf,
  type Server,
  type SyncCall,
  type Target,
} from '../core/model/calls.js';
import { formatMs, parseTimeout } from '../core/model/library.js';
import { clauseHolding, combinePaths, exitCaught, functionPath, pathInClause, type PathInfo } from '../core/model/paths.js';
import { isProcessModule, uniqueFunctions, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import type { SyntaxNode } from '../core/parse.js';
import type { Finding, Transform } from '../core/types.js';

const rule: Transform = {
  id: 'sync-call-in-callback',
  title: 'Synchronous call to another process from a callback',
  severity: 'medium',
  seedRef: '7.1',
  fixSafety: 'none',
  options: {},
  explanation: `
Detect only. A GenServer callback that calls another process synchronously (\`GenServer.call\`, or a
public function that wraps one, such as \`SomeRegistry.lookup(x)\`) stops serving its own callers until
the other process answers: its mailbox grows meanwhile, and when the answer takes longer than the
timeout (5 s by default) the call exits and takes the caller down with it.

**Severity.**
- **high** — a cycle: the other process's callbacks call this one back synchronously. If both calls
  happen at the same time, each server waits for the other until the timeout (forever with
  \`:infinity\`). The finding shows both call chains.
- **medium** — the call is made once per element of a collection (\`Enum.each/map\`, \`for\`) — one slow
  or dead peer stalls the server once per element — or it goes to another instance of the same module
  (two peers calling each other at once deadlock).
- **low** — a single call to a known server, no cycle in the scanned code.

A call to a pid we cannot tie to a module is only reported in a loop. Code that runs in another
process is never reported: an \`fn\` given to \`Task.start\`, \`Task.Supervisor.async_nolink\` or a
spawn helper is not run by the callback. That includes the seed's "circular dependency" of a callback
spawning a supervised task: nothing there waits. Calls to the server's own process are the
\`self-call\` rule's.

**How to fix by hand.** Make the call from the callers instead (in the public API function, before
calling this server), reply later (\`{:noreply, state}\` plus \`GenServer.reply/2\` from a task), turn
a call that needs no answer into a cast, read a shared value from ETS or \`:persistent_term\`, or break
a cycle by making one direction asynchronous.

\`\`\`elixir
# Before: each health check blocks the monitor, once per agent.
def handle_info(:check, state) do
  statuses = Enum.map(state.agents, &GenServer.call(&1, :get_status, 5000))
  {:noreply, %{state | statuses: statuses}}
end

# After: the checks run in a task; the monitor keeps serving and gets the result as a message.
def handle_info(:check, state) do
  Task.Supervisor.async_nolink(MyApp.TaskSup, fn -> Enum.map(state.agents, &check/1) end)
  {:noreply, state}
end
\`\`\`
`,

  detect({ file, project }) {
    const out: Finding[] = [];
    for (const mod of [...file.modules, ...(file.injected ?? [])]) {
      if (!isProcessModule(mod)) continue;
      // One finding per root cause: the call that waits (the primitive, wherever it is written) and
      // the server it reaches; every callback and call site that leads to it is a related location.
      const groups = new Map<string, Array<{ fn: FunctionDef; node: SyntaxNode; severity: Finding['severity']; message: string; via: string }>>();
      for (const fn of uniqueFunctions(mod)) {
        if (!fn.isCallback || skipped(fn, mod)) continue;
        for (const call of syncCallsOf(fn, project)) {
          if (isSelf(call.target, mod, project)) continue;
          const server = serverOf(call, call.target, mod, project);
          const verdict = judge(call, fn, mod, server, project);
          if (!verdict) continue;
          const entry = entrySite(call);
          const to = server ? server.module.name : `${call.target.kind}:${call.target.kind === 'unknown' ? call.target.text : ''}`;
          const key = `${mod.name}:${call.site.node.startIndex}@${call.clause.fn.module.name}.${call.clause.fn.name}:${to}`;
          const list = groups.get(key) ?? [];
          if (!list.some((x) => x.node.id === entry.node.id)) list.push({ fn, node: entry.node, ...verdict, via: `${call.clause.fn.module.name}.${call.clause.fn.name}/${call.clause.fn.arity}→${to}` });
          groups.set(key, list);
        }
      }
      for (const list of groups.values()) {
        const sorted = [...list].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.node.startIndex - b.node.startIndex);
        const [main, ...rest] = sorted;
        const f = finding(rule, file.path, {
          node: main.node,
          // The entry call and where it ends: two calls reached through one helper call stay two keys.
          key: `${mod.name}.${main.fn.name}/${main.fn.arity}:${main.node.text.replace(/\s+/g, ' ').slice(0, 80)}:${main.via}`,
          fixable: false,
          severity: main.severity,
          message: main.message + (rest.length ? ` The same call is reached from ${rest.length} more place${rest.length > 1 ? 's' : ''} (related locations).` : ''),
        });
        if (rest.length)
          f.related = rest.map((r) => ({ file: file.path, start: r.node.startIndex, end: r.node.endIndex, message: `${r.fn.name}/${r.fn.arity} reaches the same call here` }));
        out.push(f);
      }
    }
    return out;
  },
};

/**
 * Left to other rules or by design: init/1 of a GenServer is blocking-init's; terminate/2 waiting on
 * other processes is shutdown sequencing, bounded by the supervisor's shutdown timeout.
 */
function skipped(fn: FunctionDef, mod: ModuleDef): boolean {
  if (fn.name === 'terminate' && fn.arity === 2) return true;
  return fn.name === 'init' && fn.arity === 1 && (mod.kinds.has('genserver') || mod.kinds.has('gen_stage'));
}

/** The path from the callback to the primitive, through every hop. */
function callPath(call: SyncCall): PathInfo {
  const steps: PathInfo[] = [];
  call.hops.forEach((hop, i) => {
    const clause = clauseHolding(hop.fn, hop.site.node);
    if (i > 0) steps.push(functionPath(hop.fn));
    if (clause) steps.push(pathInClause(hop.site.node, clause));
  });
  if (call.hops.length) steps.push(functionPath(call.clause.fn));
  steps.push(pathInClause(call.site.node, call.clause));
  return combinePaths(steps);
}

/** Whether an exit of the call is caught somewhere between the callback and the primitive. */
function caught(call: SyncCall): boolean {
  if (exitCaught(call.site.node, call.clause.node)) return true;
  return call.hops.some((hop) => {
    const clause = clauseHolding(hop.fn, hop.site.node);
    return !!clause && exitCaught(hop.site.node, clause.node);
  });
}

export default rule;

const SEVERITY_RANK: Record<Finding['severity'], number> = { high: 0, medium: 1, low: 2, info: 3 };

function isSelf(target: Target, mod: ModuleDef, project: ProjectIndex): boolean {
  if (target.kind === 'self') return !target.outer;
  if (target.kind !== 'name') return false;
  const names = namesOf(mod, project);
  return names.has(target.name) || (target.name === mod.name && names.size === 0);
}

function judge(
  call: SyncCall,
  fn: FunctionDef,
  mod: ModuleDef,
  server: Server | undefined,
  project: ProjectIndex,
): { severity: Finding['severity']; message: string } | undefined {
  const via = call.hops.length ? ` through ${describeHops(call)}` : ` (${call.primitive})`;
  const t = call.timeout ? parseTimeout(call.timeout.text) : 5000;
  const forever = t === 'infinity';
  const bound = t === undefined ? `its timeout (${call.timeout!.text.trim()})` : forever ? '' : `the timeout (${formatMs(t)}${call.timeout ? '' : ', the default'})`;
  const isCaught = caught(call);
  const wait = forever
    ? 'forever (the call has no timeout)'
    : isCaught
      ? `until ${bound}; the exit is caught, so it does not crash`
      : `until ${bound}, and then the call exits and crashes ${mod.name}`;
  const path = callPath(call);
  const rare = path.kind !== 'normal';
  const verdict = judgeOn(call, fn, mod, server, project, via, wait, forever);
  if (!verdict) return undefined;
  if (!rare) return verdict;
  return { severity: 'low', message: `${verdict.message} This call is only made on a rare path (${path.why}), not on every ${fn.name}, so it is reported as low.` };
}

function judgeOn(
  call: SyncCall,
  fn: FunctionDef,
  mod: ModuleDef,
  server: Server | undefined,
  project: ProjectIndex,
  via: string,
  wait: string,
  forever: boolean,
): { severity: Finding['severity']; message: string } | undefined {
  const runs = `${fn.name}/${fn.arity} runs in ${mod.name}'s process`;
  const loop = call.loop ? ', once per element of a collection' : '';
  if (!server) {
    if (!call.loop) return undefined;
    // The target is not resolved: plausible, not proven (the collection may be small and bounded).
    return {
      severity: 'low',
      message: `${runs} and calls ${describe(call.target)}${via}${loop}: the server serves no one while it waits for each answer, and one slow process stalls it ${wait} (a dead one makes the call exit at once). Make the calls from a task, or in parallel with a bounded timeout.`,
    };
  }
  const other = server.module;
  if (other === mod) {
    // Another instance of this module (the request is answered by this module's handle_call).
    return {
      severity: 'medium',
      message: `${runs} and calls another ${mod.name} process${via} with ${requestLabel(call.request)}${loop}; its handle_call answers it. If that process calls this one at the same time, each waits for the other ${wait}.`,
    };
  }
  const back = callsBack(other, mod, project);
  const target = `${other.name}${server.how === 'name' ? '' : ` (a pid its handle_call answers: ${requestLabel(call.request)})`}`;
  if (back) {
    return {
      severity: 'high',
      message: `${runs} and calls ${target}${via}${loop}, and ${other.name}.${back.fn.name}/${back.fn.arity} calls ${mod.name} back${back.call.hops.length ? ` through ${describeHops(back.call)}` : ` (${back.call.primitive})`}: if both calls happen at once, each server waits for the other ${forever ? 'forever' : 'until the timeout'} (deadlock). Make one direction asynchronous.`,
    };
  }
  if (call.loop)
    return {
      severity: 'medium',
      message: `${runs} and calls ${target}${via}${loop}: ${mod.name} serves no one while it waits, once per element; if ${other.name} is slow it waits ${wait}.`,
    };
  return {
    severity: 'low',
    message: `${runs} and calls ${target}${via}: ${mod.name} serves no one until ${other.name} answers; if it is slow or stuck ${mod.name} waits ${wait}. No call back from ${other.name} was found in the scanned code.`,
  };
}

function describe(target: Target): string {
  if (target.kind === 'param') return `a pid from its argument ${target.index + 1}`;
  if (target.kind === 'unknown') return `\`${target.text}\``;
  return target.kind === 'name' ? target.name : 'a process';
}

/** A callback of `other` that calls `mod`'s process synchronously, if any. */
function callsBack(other: ModuleDef, mod: ModuleDef, project: ProjectIndex): { fn: FunctionDef; call: SyncCall } | undefined {
  for (const fn of uniqueFunctions(other)) {
    if (!fn.isCallback) continue;
    for (const call of syncCallsOf(fn, project)) {
      if (isSelf(call.target, other, project)) continue;
      const server = serverOf(call, call.target, other, project);
      if (server?.module === mod) return { fn, call };
    }
  }
  return undefined;
}
