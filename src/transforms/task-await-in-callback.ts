import { DEFER_OPTION_SPECS, deferralBlocker, deferralEdits, planDeferral } from '../core/deferred.js';
import { fnLabel, finding } from '../core/findings.js';
import { cachedPatterns, codeBlocking, describeBlocking, type BlockingCall } from '../core/model/blocking.js';
import type { Clause } from '../core/model/module.js';
import type { Finding, Transform } from '../core/types.js';

interface Options {
  taskSupervisor: string;
  maxChildren: number;
}

interface Data {
  clause: Clause;
  evidence: BlockingCall[];
}

const AWAITS = ['Task.await', 'Task.await_many', 'Task.yield', 'Task.yield_many'];
/** handle_call is blocking-handle-call's; init/1 is blocking-init's. */
const CALLBACKS = ['handle_cast/2', 'handle_info/2', 'handle_continue/2'];

const rule: Transform<Options> = {
  id: 'task-await-in-callback',
  title: 'Task.await or Task.yield inside a GenServer callback',
  severity: 'medium',
  fixSafety: 'review',
  risks:
    'The awaited work now finishes after the callback returns: messages the server handles in between see the state from before the work. If the task fails, the failure is logged by the Task.Supervisor and the state is left as it was (before, the server itself crashed on a failed or timed-out await, and was restarted). A periodic clause now skips a tick while its last run is still going, and keeps the running task\'s monitor in the state under a new key (`:<message>_task`): code that inspects the whole state map sees it.',
  options: {
    ...DEFER_OPTION_SPECS,
  },
  explanation: `
\`Task.async(fun) |> Task.await()\` inside \`handle_cast\`, \`handle_info\` or \`handle_continue\` starts
concurrent work and then makes the server wait for it: the server is as blocked as if it did the work
itself, for up to the await timeout (5 s by default), and every message behind it waits too. The
same holds for \`Task.Supervisor.async_nolink(...) |> Task.await()\` and for \`Task.yield\` with a
timeout. If the await times out, the server crashes. (\`Task.yield(task, 0)\` only polls and is fine.)

In \`handle_call\` this is reported by \`blocking-handle-call\`, and in \`init/1\` by \`blocking-init\`.

**The fix** moves the work and the await into a task under a \`Task.Supervisor\` and returns at once.
When the callback then changes the state with the result, the task sends the result back and a new
\`handle_info\` clause (before any catch-all) does that part in the server. A task that fails is logged
by the Task.Supervisor and leaves the state as it was; when the supervisor is at \`max_children\`, the
work is dropped with a \`Logger.warning\`. A periodic clause (a \`handle_info\` that reschedules its own message with \`Process.send_after\`)
keeps its loop: the reschedule runs before the work starts (moved there when it came after the work),
one run goes at a time (a tick that comes while the last run is still going is skipped; the run's
monitor is kept in the state map), and a run that crashes or cannot start is logged and the next tick
runs as usual. A struct state is left alone (otpfix does not add fields to structs).
By hand, the idiomatic alternative is
\`Task.Supervisor.async_nolink/2\` plus \`handle_info({ref, result}, state)\` and
\`handle_info({:DOWN, ref, :process, _, reason}, state)\`, keeping the task ref in the state.

Before:
\`\`\`elixir
def handle_info(:refresh, state) do
  rates = Task.async(fn -> Rates.fetch_all() end) |> Task.await(15_000)
  {:noreply, %{state | rates: rates}}
end
\`\`\`
After:
\`\`\`elixir
def handle_info(:refresh, state) do
  server = self()

  work = fn ->
    rates = Task.async(fn -> Rates.fetch_all() end) |> Task.await(15_000)
    send(server, {:refresh_result, rates})
  end

  case Task.Supervisor.start_child(MyApp.TaskSupervisor, work) do
    {:ok, _pid} ->
      {:noreply, state}

    {:error, reason} ->
      Logger.warning("MyApp.Rates: could not start deferred work: #{inspect(reason)}")
      {:noreply, state}
  end
end

def handle_info({:refresh_result, rates}, state) do
  {:noreply, %{state | rates: rates}}
end
\`\`\`
`,

  detect({ file, project, options }) {
    if (!file.text.includes('Task.')) return [];
    const patterns = cachedPatterns(project, AWAITS);
    const out: Finding[] = [];
    for (const mod of file.modules) {
      if (!mod.kinds.has('genserver') && !mod.kinds.has('gen_stage')) continue;
      for (const key of CALLBACKS) {
        const fn = mod.functions.get(key);
        if (!fn || fn.kind !== 'def') continue;
        for (const clause of fn.clauses) {
          if (!clause.body) continue;
          const evidence = codeBlocking(clause, clause.body, patterns, project, false);
          if (!evidence.length) continue;
          const blocker = deferralBlocker(planDeferral(clause, evidence, patterns, 'noreply', project), project, options);
          const msg = clause.params[0]?.text.replace(/\s+/g, ' ') ?? '';
          out.push(
            finding(rule, file.path, {
              node: clause.head,
              key: `${fnLabel(fn)}:${msg}${clause.guard ? ` when ${clause.guard.text}` : ''}`,
              fixable: !blocker,
              message:
                `${fn.name}(${msg}, ...) makes the ${mod.name} process wait on ${evidence.slice(0, 3).map(describeBlocking).join(', ')}: ` +
                `the work runs concurrently, but the server blocks until it ends and every message behind it waits; a timed-out await crashes the server.` +
                (blocker ? ` Not rewritten automatically: ${blocker}.` : ''),
              data: { clause, evidence } satisfies Data,
            }),
          );
        }
      }
    }
    return out;
  },

  fix(f, { file, project, options }) {
    const { clause, evidence } = f.data as Data;
    const plan = planDeferral(clause, evidence, cachedPatterns(project, AWAITS), 'noreply', project);
    if ('reason' in plan) return { skip: plan.reason };
    return deferralEdits(file, project, options, plan);
  },
};

export default rule;
