import { DEFER_OPTION_SPECS, deferralBlocker, deferralEdits, planDeferral } from '../core/deferred.js';
import { fnLabel, finding } from '../core/findings.js';
import {
  BLOCKING_WORK,
  cachedPatterns,
  codeBlocking,
  describeWait,
  evidenceWeight,
  isExitWait,
  isHandshake,
  isBoundedYield,
  normalFirst,
  rarePathNote,
  receiveTimeout,
  validatePatterns,
  waitTimeout,
  type BlockingCall,
  type BlockingPattern,
} from '../core/model/blocking.js';
import { callerTimeout } from '../core/model/calls.js';
import { formatMs, parseTimeout } from '../core/model/library.js';
import { siteName, uniqueFunctions, type Clause, type ModuleDef } from '../core/model/module.js';
import type { SyntaxNode } from '../core/parse.js';
import type { ProjectIndex } from '../core/model/project.js';
import type { Finding, Transform } from '../core/types.js';

interface Options {
  blockingCalls: string[];
  taskSupervisor: string;
  maxChildren: number;
}

interface Data {
  clause: Clause;
  evidence: BlockingCall[];
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
      default: BLOCKING_WORK.map((p) => p.pattern),
      validate: validatePatterns,
      description:
        'Calls that block, as `Module.function` patterns (`*` matches anything: `*.Repo.*`). Replaces the default list (HTTP clients, sockets, sleeps, Task.await/yield, System.cmd, File I/O, Ecto repos).',
    },
    ...DEFER_OPTION_SPECS,
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
- **Which supervisor:** otpfix follows the application's real supervision tree (the one its
  \`mix.exs\` names, through \`++\`, conditionals, helpers and nested supervisors). It reuses a
  \`Task.Supervisor\` started on every boot before the server; otherwise it adds
  \`{Task.Supervisor, name: MyApp.TaskSupervisor, max_children: 1000}\` right before the server's child
  spec, in every list that starts it. A library (no application) or a server it cannot find in the tree
  is left alone, unless the \`taskSupervisor\` option names one.
- **No lost updates:** only the blocking statements run in the task; what follows runs in the server on
  the state as it is when the result comes back. When a value computed from the state before or during
  the work would become part of the new state (a helper given the whole state, \`n = state.n\` written
  back later), installing it would discard what other messages changed meanwhile: otpfix refuses and
  says so. Values read from the state and used only in the reply are named in the change's notes.

The work no longer runs inside the server, so it must not depend on being there. otpfix leaves a
clause alone (detect only, and says why) when the work uses \`self()\`, the process dictionary or ETS
tables the server owns, opens files, ports or sockets (they would belong to the task and close with
it), monitors or links processes, waits in \`receive\` (that reads the server's own mailbox), or when
the clause does not end in a single \`{:reply, value, state}\`. Consider also whether ordering matters: replies
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
    const patterns = cachedPatterns(project, options.blockingCalls);
    const out = [];
    const injected = new Set(file.injected ?? []);
    for (const mod of [...file.modules, ...injected]) {
      if (mod.kinds.has('gen_statem')) out.push(...statemCalls(mod, file.path, patterns, project));
      if (!mod.kinds.has('genserver') && !mod.kinds.has('gen_stage')) continue;
      const handleCall = mod.functions.get('handle_call/3');
      if (!handleCall || handleCall.kind !== 'def') continue;
      for (const clause of handleCall.clauses) {
        if (!clause.body) continue;
        const all = codeBlocking(clause, clause.body, patterns, project);
        // Waiting for a monitored process to go down is the shutdown protocol, not work.
        // Task.yield with its own timeout, then handling the task still running, is the recommended bounded wait.
        const evidence = all.filter((c) => !isExitWait(c) && !isBoundedYield(c));
        if (!evidence.length) continue;
        // Local disk work is short, and a server doing it often serializes file operations on purpose
        // (a code reloader, a store): letting them interleave is not a fix otpfix can show is safe.
        const diskOnly = evidence.every((e) => evidenceWeight(e) === 'disk');
        const blocker = diskOnly
          ? 'the work is local disk I/O, usually short, and the server may be serializing those file operations on purpose; moving them out would let them interleave with the rest. If they are really slow, move them to a task by hand and check the ordering'
          : deferralBlocker(planDeferral(clause, all, patterns, 'reply', project), project, options);
        const msg = clause.params[0]?.text.replace(/\s+/g, ' ') ?? '';
        const { calls: shown, rare } = normalFirst(evidence);
        const why = shown.slice(0, 3).map(describeWait).join(', ');
        const early = repliedBefore(clause, shown);
        const { severity, note } = early
          ? { severity: 'low' as const, note: ' It replies first (GenServer.reply at line ' + (early.startPosition.row + 1) + '), so this caller does not wait for the work; only the messages behind it do.' }
          : judge(shown, rare);
        out.push(
          finding(rule, file.path, {
            node: clause.head,
            key: `${fnLabel(handleCall)}:${msg}${clause.guard ? ` when ${clause.guard.text}` : ''}`,
            fixable: !blocker && !injected.has(mod),
            severity,
            message:
              `handle_call(${msg}, ...) blocks the ${mod.name} process on ${why}: while it waits, every other call, ` +
              `cast and message to this server queues behind it${early ? '' : `; ${callers(clause, shown)}`}.${note}` +
              (injected.has(mod)
                ? ` Not rewritten automatically: this clause is injected by ${mod.parent!.name}.__using__ into every module that uses it; change it there by hand.`
                : blocker
                  ? ` Not rewritten automatically: ${blocker}.`
                  : ''),
            data: { clause, evidence: all } satisfies Data,
          }),
        );
      }
    }
    return out;
  },

  fix(f, { file, project, options }) {
    const { clause, evidence } = f.data as Data;
    const plan = planDeferral(clause, evidence, cachedPatterns(project, options.blockingCalls), 'reply', project);
    if ('reason' in plan) return { skip: plan.reason };
    return deferralEdits(file, project, options, plan);
  },
};

export default rule;


/** How long the wait may take next to how long callers wait for the reply. */
function callers(clause: Clause, calls: BlockingCall[], statem = false): string {
  const caller = callerTimeout(clause, statem ? 1 : 0);
  const t = caller?.timeout ? parseTimeout(caller.timeout.text) : caller ? (statem ? 'infinity' : 5000) : undefined;
  const via = caller ? ` (through ${caller.via.name}/${caller.via.arity})` : '';
  const callerWait =
    t === undefined
      ? caller?.timeout
        ? `callers${via} wait up to the timeout they pass (${caller.timeout.text.trim()})`
        : statem
          ? 'callers wait up to their call timeout (none unless they pass one)'
          : 'callers wait up to their GenServer.call timeout (5 s unless they pass one)'
      : t === 'infinity'
        ? `callers${via} wait with no timeout`
        : `callers${via} wait up to ${formatMs(t)}`;
  const longest = calls.map((c) => waitTimeout(c)?.value).find((v) => v === 'infinity' || (typeof v === 'number' && typeof t === 'number' && v > t));
  return longest !== undefined && typeof t === 'number'
    ? `${callerWait}, less than the wait may take (${longest === 'infinity' ? 'no timeout' : formatMs(longest)}), so their call exits while the server is still busy`
    : callerWait;
}

/**
 * Network, remote nodes, sleeps and awaits on the normal path are high; a database or Redis round
 * trip, another process or an OS command is medium (degraded throughput); local disk and a receive
 * bounded by its own timeout are low; anything only on an error or retry path is low.
 */
function judge(calls: BlockingCall[], rare: boolean): { severity: Finding['severity']; note: string } {
  if (rare) return { severity: 'low', note: rarePathNote(calls) };

  const cats = new Set(calls.map((c) => c.category));
  const unboundedReceive = calls.some((c) => c.category === 'receive' && !receiveTimeout(c) && !isHandshake(c));
  if (['http', 'socket', 'sleep', 'task-wait', 'remote', 'retry'].some((c) => cats.has(c as BlockingCall['category'])) || unboundedReceive)
    return { severity: 'high', note: unboundedReceive && cats.size === 1 ? ' It waits for a message with no timeout: if it never comes, the server is stuck for good.' : '' };
  if (['repo', 'redis', 'sync-call', 'os'].some((c) => cats.has(c as BlockingCall['category']))) return { severity: 'medium', note: '' };
  if (cats.has('file')) return { severity: 'low', note: ' Local disk I/O is usually quick; it hurts on slow or network file systems and large files.' };
  if (calls.some(isHandshake))
    return { severity: 'low', note: ' It waits for a process it just started to answer (a handshake): quick unless that process fails before answering.' };
  return { severity: 'low', note: ' It waits for a message with its own timeout, a deliberate synchronization: keep that timeout short.' };
}

/**
 * gen_statem: the clauses that answer a call (`handle_event({:call, from}, ...)`, or a state
 * function's `{:call, from}` clause) block the state machine the same way. Detect only: the reply
 * goes out as a `{:reply, from, value}` action, which the deferred-reply rewrite does not produce.
 */
function statemCalls(mod: ModuleDef, filePath: string, patterns: readonly BlockingPattern[], project: ProjectIndex): Finding[] {
  const out: Finding[] = [];
  for (const fn of uniqueFunctions(mod)) {
    if (!fn.isCallback || !((fn.name === 'handle_event' && fn.arity === 4) || fn.arity === 3)) continue;
    for (const clause of fn.clauses) {
      if (!clause.body || !/^\{\s*:call\s*,/.test(clause.params[0]?.text.trim() ?? '')) continue;
      const evidence = codeBlocking(clause, clause.body, patterns, project).filter((c) => !isExitWait(c) && !isBoundedYield(c));
      if (!evidence.length) continue;
      const { calls: shown, rare } = normalFirst(evidence);
      const { severity, note } = judge(shown, rare);
      const head = clause.params.slice(0, 2).map((p) => p.text.replace(/\s+/g, ' ')).join(', ');
      out.push(
        finding(rule, filePath, {
          node: clause.head,
          key: `${fnLabel(fn)}:${head}${clause.guard ? ` when ${clause.guard.text}` : ''}`,
          fixable: false,
          severity,
          message:
            `${fn.name}(${head}, ...) blocks the ${mod.name} state machine on ${shown.slice(0, 3).map(describeWait).join(', ')}: while it waits, ` +
            `every other call, cast and message queues behind it; ${callers(clause, shown, true)}.${note}` +
            ' Not rewritten automatically: a gen_statem replies with a {:reply, from, value} action; to do this by hand, start the work in a supervised task, keep `from`, and reply with :gen_statem.reply/2 when it ends.',
        }),
      );
    }
  }
  return out;
}

/** `GenServer.reply(from, ...)` written before every wait: the caller already has its answer. */
function repliedBefore(clause: Clause, calls: BlockingCall[]): SyntaxNode | undefined {
  const first = Math.min(...calls.map((c) => c.entry.startIndex));
  return clause.calls.find((s) => /^(GenServer|:gen_server|:gen)\.reply$/.test(siteName(s)) && s.node.endIndex <= first)?.node;
}
