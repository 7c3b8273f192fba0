import { DEFER_OPTION_SPECS, deferralBlocker, deferralEdits, planDeferral } from '../core/deferred.js';
import { fnLabel, finding } from '../core/findings.js';
import {
  BLOCKING_WORK,
  cachedPatterns,
  codeBlocking,
  describeBlocking,
  evidenceWeight,
  validatePatterns,
  type BlockingCall,
} from '../core/model/blocking.js';
import type { Clause } from '../core/model/module.js';
import type { Transform } from '../core/types.js';

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
    const patterns = cachedPatterns(project, options.blockingCalls);
    const out = [];
    for (const mod of file.modules) {
      if (!mod.kinds.has('genserver') && !mod.kinds.has('gen_stage')) continue;
      const handleCall = mod.functions.get('handle_call/3');
      if (!handleCall || handleCall.kind !== 'def') continue;
      for (const clause of handleCall.clauses) {
        if (!clause.body) continue;
        const evidence = codeBlocking(clause, clause.body, patterns, project);
        if (!evidence.length) continue;
        const blocker = deferralBlocker(planDeferral(clause, evidence, patterns, 'reply', project), project, options);
        const msg = clause.params[0]?.text.replace(/\s+/g, ' ') ?? '';
        const why = evidence.slice(0, 3).map(describeBlocking).join(', ');
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
            fixable: !blocker,
            severity,
            message:
              `handle_call(${msg}, ...) blocks the ${mod.name} process on ${why}: while it waits, every other call, ` +
              `cast and message to this server queues behind it, and callers time out after 5 s by default.${note}` +
              (blocker ? ` Not rewritten automatically: ${blocker}.` : ''),
            data: { clause, evidence } satisfies Data,
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

