import {
  addHandleCast,
  castable,
  castText,
  deriveHandleCast,
  exitOnlyTry,
  reindent,
  valueDiscarded,
} from '../core/callback-rewrite.js';
import { finding } from '../core/findings.js';
import { describeHops, entrySite, handleCallsFor, handleCastsFor, requestLabel, type SyncCall } from '../core/model/calls.js';
import type { FunctionDef, ModuleDef } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import {
  emitterEvidence,
  eventsForClause,
  eventText,
  handlerCalls,
  telemetryIndex,
  type ProcessRef,
  type TelemetryAttach,
} from '../core/model/telemetry.js';
import type { SyntaxNode } from '../core/parse.js';
import { indentAt } from '../core/query.js';
import type { Edit, Finding, Transform } from '../core/types.js';

interface Data {
  attachLabel: string;
  call: SyncCall;
  server?: string;
  /** Why the rewrite is not done, when it is not. */
  decline?: string;
}

const rule: Transform = {
  id: 'telemetry-handler-sync-call',
  title: 'GenServer.call inside a telemetry handler',
  severity: 'high',
  seedRef: '2.1',
  fixSafety: 'review',
  options: {},
  explanation: `
A telemetry handler does not run in the process that attached it: \`:telemetry.execute/3\` calls
every handler in the process that *emits* the event. A \`GenServer.call\` inside a handler therefore
blocks whichever process emits, and when that process is the server being called (the server emits an
event that its own handler routes back to it) the call can never be answered: every \`:gen\` call
(\`GenServer.call\`, \`:gen_server.call\`, \`Agent.get\`) exits with \`calling_self\` when the pid or name
resolves to the caller, and a call through a chain of processes (the handler calls B, which calls the
emitter) waits for its timeout. Catching the exit, as the code often does, hides it: the event is
silently dropped; not catching it makes \`:telemetry\` detach the handler for good.

**What is reported.** A synchronous call (\`GenServer.call\`, \`:gen_server.call\`, \`GenStage.call\`,
\`Agent.get/update\`) made by a handler, directly or through helpers and public wrappers several hops
deep, with the handler given as an \`fn\`, \`&Mod.fun/4\`, \`&__MODULE__.fun/4\`, \`&fun/4\`, or a
module attribute or variable holding one. The target is resolved through closures (\`pid = self()\`
before the attach), the attach config, local callers of the attaching helper (\`attach(self())\` from
\`init/1\`), registered names and \`__MODULE__\`.
- **high**: the target's own process emits one of the attached events (the finding names the emit and
  the callback chain that reaches it), or the handler calls \`self()\`.
- **medium**: the target is known, but some attached events are emitted outside the scanned code (a
  library) or under a computed name, so we cannot rule out that the target emits them.
- **low**: the target is a pid we cannot resolve; the handler still blocks every emitter.
- **silent**: every emitter of every attached event is in the scanned code and none of them runs in
  the target's process (its callbacks, the helpers they call, and other modules' functions they call
  in-process). We do not assume anything about events we cannot see.

**The fix** (when the call is written in the handler, its reply is not used, and the target module is
in the scanned code): \`GenServer.call(target, msg, timeout)\` becomes \`GenServer.cast(target, msg)\`
and the target gets a \`handle_cast\` clause for that message, derived from its \`handle_call\`
clause (same pattern, guard and body, returning \`{:noreply, state}\`), placed with the other
\`handle_cast\` clauses and before a catch-all. A \`try ... catch :exit, _\` around the call is
removed: a cast does not exit. The \`handle_call\` clause is kept for other callers. When the reply is
used, or the call goes through a public wrapper other code relies on, the finding says so and nothing
is rewritten: add a cast variant of the wrapper by hand.

Before:
\`\`\`elixir
fn event, measurements, metadata, _config ->
  GenServer.call(router_pid, {:route_signal, event, measurements, metadata}, 5000)
end
\`\`\`
After (plus \`def handle_cast({:route_signal, ...}, state)\` in the router):
\`\`\`elixir
fn event, measurements, metadata, _config ->
  GenServer.cast(router_pid, {:route_signal, event, measurements, metadata})
end
\`\`\`
`,

  detect({ file, project }) {
    const out: Finding[] = [];
    const keys = new Set<string>();
    for (const attach of telemetryIndex(project).attaches) {
      // Calls are reported in the file of the handler's code: skip other files' handlers cheaply.
      const handlerFile = attach.handler.kind === 'function' ? attach.handler.fn.module.file : attach.module.file;
      if (handlerFile !== file) continue;
      for (const { call, process } of handlerCalls(attach, project)) {
        const entry = entrySite(call);
        const where = call.hops.length ? call.hops[0].fn.module.file : attach.handler.kind === 'function' ? attach.handler.fn.module.file : attach.module.file;
        if (where !== file) continue;
        const clause = handlerClause(attach, call);
        const eventNames = clause ? eventsForClause(attach, clause) : attach.eventNames;
        if (eventNames && !eventNames.length) continue; // this clause never receives the attached events
        const verdict = judge(attach, call, process, project, eventNames);
        if (!verdict) continue;
        // The request as written tells two calls of one handler apart without using offsets.
        const key = `${handlerLabel(attach)}:${describeHops(call)}:${(call.request?.text ?? '').replace(/\s+/g, ' ')}`;
        if (keys.has(key)) continue;
        keys.add(key);
        const data: Data = { attachLabel: handlerLabel(attach), call, server: process.kind === 'module' ? process.module.name : undefined };
        data.decline = declineReason(attach, call, process);
        out.push(
          finding(rule, file.path, {
            node: entry.node,
            key,
            severity: verdict.severity,
            fixable: !data.decline,
            message: verdict.message + (data.decline ? ` Not rewritten: ${data.decline}.` : ''),
            data,
          }),
        );
      }
    }
    return out;
  },

  fix(f, { file, project }) {
    const data = f.data as Data;
    if (data.decline) return { skip: data.decline };
    const server = data.server ? project.modules.get(data.server) : undefined;
    if (!server) return { skip: 'the target module is not in the scanned code' };
    const edits: Edit[] = [];
    const call = data.call;
    const callNode = call.site.node;
    const cast = castText(file, callNode, call.timeout);
    const tryNode = exitOnlyTry(callNode);
    if (tryNode) {
      // try do GenServer.call(...) catch :exit, _ -> ... end → the cast alone: it cannot exit.
      const text = reindent(cast, indentAt(file.text, callNode.startIndex), indentAt(file.text, tryNode.startIndex));
      edits.push({ file: file.path, start: tryNode.startIndex, end: tryNode.endIndex, text });
    } else edits.push({ file: file.path, start: callNode.startIndex, end: callNode.endIndex, text: cast });
    const notes: string[] = [];
    if (call.request && !handleCastsFor(server, call.request).length) {
      const clauses = handleCallsFor(server, call.request);
      const derived = clauses.map((c) => deriveHandleCast(c, server.file));
      const failed = derived.find((d): d is { reason: string } => 'reason' in d);
      if (failed) return { skip: failed.reason };
      edits.push(addHandleCast(server.file, server, derived.map((d) => (d as { text: string }).text)));
      notes.push(`${server.name}.handle_call(${requestLabel(call.request)}, ...) is kept for other callers; remove it if nothing else calls it.`);
    }
    return { edits, notes };
  },
};

export default rule;

function handlerLabel(attach: TelemetryAttach): string {
  if (attach.handler.kind === 'function') return `${attach.handler.fn.module.name}.${attach.handler.fn.name}/4`;
  return `${attach.module.name}.${attach.fn.name}/${attach.fn.arity}:fn@${attach.site.node.startPosition.row - attach.clause.node.startPosition.row}`;
}

function events(attach: TelemetryAttach, names = attach.eventNames): string {
  return names ? names.map(eventText).join(', ') : `the events in \`${attach.events?.text.slice(0, 40)}\``;
}

/** The handler clause the call is made from (for a handler function), to narrow the events it sees. */
function handlerClause(attach: TelemetryAttach, call: SyncCall) {
  if (attach.handler.kind !== 'function') return undefined;
  const site = entrySite(call);
  return attach.handler.fn.clauses.find((c) => c.node.startIndex <= site.node.startIndex && site.node.endIndex <= c.node.endIndex);
}

function chain(path: FunctionDef[]): string {
  return path.map((f) => `${f.module.name === path[0].module.name ? '' : f.module.name + '.'}${f.name}/${f.arity}`).join(' → ');
}

function judge(
  attach: TelemetryAttach,
  call: SyncCall,
  process: ProcessRef,
  project: ProjectIndex,
  eventNames: string[] | undefined,
): { severity: Finding['severity']; message: string } | undefined {
  const via = call.hops.length ? ` (through ${describeHops(call)})` : '';
  const what = `${call.primitive}${via} in the telemetry handler for ${events(attach, eventNames)}`;
  const runs = 'The handler runs in the process that emits the event, not in the one that attached it.';
  if (process.kind === 'emitter')
    return { severity: 'high', message: `${what} calls self(): that is the emitting process, so the call exits with calling_self whoever emits. ${runs}` };
  // An Agent the test started with start_supervised!: a counter the test reads, not a server in production.
  if (process.kind === 'unknown' && /^start_supervised!?\(/.test(process.text)) return undefined;
  if (process.kind === 'unknown')
    return {
      severity: 'low',
      message: `${what} calls ${process.text}, which we cannot resolve to a process. ${runs} Every emitter blocks until that process answers, and deadlocks if it is the emitter or waits on it.`,
    };
  const target = process.module;
  const evidence = emitterEvidence(attach, target, project, eventNames);
  const caught = !!closestTry(entrySite(call).node);
  // Every :gen call (GenServer, :gen_server, :gen_statem, Agent) exits with calling_self on its own pid.
  const exits =
    'exits with calling_self' +
    (caught
      ? ' and the catch around it drops the event'
      : ', and :telemetry then detaches the handler, so no later event reaches it either');
  if (evidence.inTarget.length) {
    const { emit, path } = evidence.inTarget[0];
    const where = `${emit.module.name}.${emit.fn.name}/${emit.fn.arity}`;
    const how = path.length > 1 ? ` (reached from ${chain(path)})` : '';
    const emitted = (emit.events ?? []).filter((e) => eventNames?.includes(e)).map(eventText).join(', ');
    return {
      severity: 'high',
      message: `${what} calls ${target.name} (${process.how}), but ${target.name}'s own process emits ${emitted} in ${where}${how}. ${runs} There the call targets its own process: it ${exits}.`,
    };
  }
  if (evidence.unseen.length || evidence.dynamicInTarget.length) {
    const unseen = evidence.unseen.length ? `${evidence.unseen.map((e) => (e.includes('.') ? eventText(e) : e)).join(', ')} ${evidence.unseen.length > 1 ? 'are' : 'is'} not emitted in the scanned code` : '';
    const dyn = evidence.dynamicInTarget.length
      ? `${target.name}'s process emits events with computed names (${evidence.dynamicInTarget[0].module.name}.${evidence.dynamicInTarget[0].fn.name}/${evidence.dynamicInTarget[0].fn.arity})`
      : '';
    return {
      severity: 'medium',
      message: `${what} calls ${target.name} (${process.how}). ${runs} ${[unseen, dyn].filter(Boolean).join('; ')}, so we cannot rule out that ${target.name} emits ${eventNames && eventNames.length === 1 ? 'it' : 'them'}: if it does, the call ${exits}. Every emitter also blocks until ${target.name} answers.`,
    };
  }
  return undefined; // every emitter is known and none runs in the target's process
}

function declineReason(attach: TelemetryAttach, call: SyncCall, process: ProcessRef): string | undefined {
  if (!castable(call.primitive)) return `${call.primitive} has no cast counterpart to rewrite to`;
  if (call.hops.length)
    return `the call goes through ${describeHops(call)}, a function other callers may rely on for its reply; give it a cast variant and call that from the handler`;
  if (process.kind !== 'module') return 'the target process is not resolved to a module in the scanned code, so no handle_cast can be added';
  const root = handlerRoot(attach, call);
  if (!root || !valueDiscarded(call.site.node, root)) return 'the handler uses the reply of the call, which a cast cannot give';
  const server: ModuleDef = process.module;
  if (!call.request) return 'the request is not known';
  if (handleCastsFor(server, call.request).length) return undefined;
  const clauses = handleCallsFor(server, call.request);
  if (!clauses.length) return `no handle_call clause of ${server.name} matches ${requestLabel(call.request)}, so there is nothing to derive a handle_cast from`;
  for (const c of clauses) {
    const d = deriveHandleCast(c, server.file);
    if ('reason' in d) return d.reason;
  }
  return undefined;
}

function closestTry(node: SyntaxNode): SyntaxNode | undefined {
  for (let n = node.parent; n; n = n.parent) {
    if (n.type === 'anonymous_function' || (n.type === 'call' && /^defp?$/.test(n.childForFieldName('target')?.text ?? ''))) return undefined;
    if (n.type === 'call' && n.childForFieldName('target')?.text === 'try') return n;
  }
  return undefined;
}

/** The code whose value the handler returns: the `fn` body, or the handler function's clause body. */
function handlerRoot(attach: TelemetryAttach, call: SyncCall): SyntaxNode | undefined {
  if (attach.handler.kind === 'fn') {
    const stab = attach.handler.node.namedChildren.find((c) => c.type === 'stab_clause');
    return stab?.childForFieldName('right') ?? undefined;
  }
  return call.clause.body;
}
