import { finding, fnLabel } from '../core/findings.js';
import { siteName, uniqueFunctions, type CallSite, type Clause } from '../core/model/module.js';
import type { SyntaxNode } from '../core/parse.js';
import { callIdentifier } from '../core/query.js';
import type { Finding, Transform } from '../core/types.js';

const STOPS = /^(Supervisor|DynamicSupervisor|PartitionSupervisor|GenServer|Agent|:gen_server|:supervisor)\.stop$/;

const rule: Transform = {
  id: 'supervisor-stop-then-kill',
  title: 'stop with a Process.exit(pid, :kill) fallback',
  severity: 'medium',
  seedRef: '4.1',
  fixSafety: 'none',
  options: {},
  explanation: `
**Detect only.** \`DynamicSupervisor.stop(pid, :shutdown, 1000)\` inside \`try\` with
\`catch _, _ -> Process.exit(pid, :kill)\` looks like a safe stop with a hard fallback, but:

- \`stop/3\` exits with \`:timeout\` while the supervisor is *still shutting its children down*; the
  kill then cuts that shutdown short, so children with long shutdowns (flushing buffers, closing
  connections) are killed mid-way — the very cleanup the timeout was waiting for.
- \`Process.exit/2\` is asynchronous: when it returns the process may still be alive and still hold
  its registered name, so starting a replacement under the same name right after can fail with
  \`{:error, {:already_started, pid}}\`.
- \`catch _, _\` also swallows \`:noproc\` and every other exit, hiding real errors.

Make the supervisor a child of a \`DynamicSupervisor\` in the tree and stop it with
\`DynamicSupervisor.terminate_child/2\`: the parent applies the child's \`:shutdown\` (then kills) and
returns only once it is gone. When you must stop by hand, monitor first and wait for \`:DOWN\` before
reusing the name.

Before:
\`\`\`elixir
try do
  DynamicSupervisor.stop(pid, :shutdown, 1000)
catch
  _, _ -> Process.exit(pid, :kill)
end
\`\`\`
After:
\`\`\`elixir
:ok = DynamicSupervisor.terminate_child(MyApp.PoolSup, pid)
\`\`\`
`,

  detect({ file }) {
    const out: Finding[] = [];
    for (const mod of file.modules)
      for (const fn of uniqueFunctions(mod)) {
        let n = 0;
        for (const clause of fn.clauses)
          for (const stop of clause.calls) {
            if (stop.capture || !STOPS.test(siteName(stop))) continue;
            const kill = killAfter(stop, clause);
            if (!kill) continue;
            out.push(
              finding(rule, file.path, {
                node: stop.node,
                key: `${fnLabel(fn)}:${siteName(stop)}#${n++}`,
                fixable: false,
                message:
                  `${fnLabel(fn)} calls ${siteName(stop)}/${stop.arity} and ${kill.how} falls back to Process.exit(${kill.site.args[0]?.text ?? 'pid'}, :kill) (line ${kill.site.node.startPosition.row + 1}): ` +
                  `the kill cuts short a shutdown still in progress and returns before the process is gone, so its name may still be taken. ` +
                  `Stop it through its parent with DynamicSupervisor.terminate_child/2, or monitor it and wait for :DOWN.`,
              }),
            );
          }
      }
    return out;
  },
};

export default rule;

/** A `Process.exit(_, :kill)` in the catch/rescue of the `try` around `stop`, or right after it. */
function killAfter(stop: CallSite, clause: Clause): { site: CallSite; how: string } | undefined {
  const kills = clause.calls.filter((c) => siteName(c) === 'Process.exit' && c.args[1]?.text === ':kill');
  if (!kills.length) return undefined;
  for (let n: SyntaxNode | null = stop.node.parent; n && n.id !== clause.node.id; n = n.parent) {
    if (n.type !== 'do_block' || callIdentifier(n.parent!) !== 'try') continue;
    const handlers = n.namedChildren.filter((c) => c.type === 'catch_block' || c.type === 'rescue_block');
    const kill = kills.find((k) => handlers.some((h) => k.node.startIndex >= h.startIndex && k.node.endIndex <= h.endIndex));
    if (kill) return { site: kill, how: 'on any exit' };
  }
  // stop(...) then kill(...) on the same pid in the statements after it.
  const target = stop.args[0]?.text;
  const block = statementBlock(stop.node);
  const kill = kills.find((k) => k.node.startIndex > stop.node.endIndex && k.args[0]?.text === target && statementBlock(k.node)?.id === block?.id);
  return kill ? { site: kill, how: 'then unconditionally' } : undefined;
}

/** The block whose statement holds `node` (a `do` block, a clause body, the file). */
function statementBlock(node: SyntaxNode): SyntaxNode | undefined {
  for (let n = node.parent; n; n = n.parent) if (['do_block', 'body', 'source', 'else_block'].includes(n.type)) return n;
  return undefined;
}
