import { finding } from '../core/findings.js';
import {
  CAST_PRIMITIVES,
  calleeOf,
  clauseScope,
  handleCastsFor,
  isCatchAllPattern,
  namesOf,
  requestLabel,
  resolveTarget,
} from '../core/model/calls.js';
import { isProcessModule, siteName, uniqueFunctions, type CallSite, type Clause, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import type { SyntaxNode } from '../core/parse.js';
import { atomValue, codeChildren } from '../core/query.js';
import { bodyStatements } from '../core/rewrite.js';
import type { Finding, Transform } from '../core/types.js';

/** Modules whose functions only compute (or log): calling them is not an effect whose failure matters. */
const PURE_MODULES = new Set([
  'Map', 'Enum', 'List', 'Keyword', 'String', 'MapSet', 'Tuple', 'Integer', 'Float', 'Atom', 'Kernel',
  'Access', 'DateTime', 'NaiveDateTime', 'Date', 'Time', 'System', 'Logger', 'Process', 'Stream', 'Range',
  'Bitwise', 'Base', 'URI', 'Regex', 'Path', 'Calendar', 'IO', 'Inspect', ':queue', ':maps', ':lists',
  ':erlang', ':math', ':gb_trees', ':gb_sets', ':sets', ':orddict', ':ordsets', 'GenServer',
]);

const rule: Transform = {
  id: 'unconfirmed-cast',
  title: 'Public API that only casts an operation whose failure matters',
  severity: 'info',
  seedRef: '7.2',
  fixSafety: 'none',
  options: {},
  explanation: `
Detect only, for information. A public function whose whole body is \`GenServer.cast(server, msg)\`
returns \`:ok\` at once, whatever happens next:
- if the server is not running, a cast to a registered name is silently dropped (a call would exit
  with \`:noproc\`);
- if \`handle_cast\` fails, the caller never hears of it, and the message is lost with the crash;
- nothing slows down a caller that casts faster than the server handles: its mailbox grows without
  bound (no backpressure), and every other request queues behind the flood.

That is the right trade for fire-and-forget work (metrics, cache warming). It is not when the
operation has effects the caller relies on. **What is reported** is only a cast whose \`handle_cast\`
clause (or the helpers it calls) does such work: writes outside the server's state (a database, a
file, ETS, another process through a call), calls something that raises (\`!\` functions, \`raise\`),
or can stop the server (\`{:stop, ...}\`). The finding names that evidence. A \`handle_cast\` that only
updates its own state with pure functions is not reported.

**How to fix by hand.** If callers must know the work is done, or must be slowed down when the server
falls behind, use \`GenServer.call\` (it also fails loudly when the server is down). If the work is a
flood by nature, keep the cast but bound it: check \`Process.info(pid, :message_queue_len)\` before
casting, or batch on the caller side.

\`\`\`elixir
# Before: returns :ok even if the store is down or the insert fails.
def record_error(agent_id, error), do: GenServer.cast(__MODULE__, {:record_error, agent_id, error})

# After: the caller learns of failures and is paced by the store.
def record_error(agent_id, error), do: GenServer.call(__MODULE__, {:record_error, agent_id, error})
\`\`\`
`,

  detect({ file, project }) {
    const out: Finding[] = [];
    for (const mod of file.modules)
      for (const fn of uniqueFunctions(mod)) {
        if (fn.kind !== 'def' || fn.isCallback) continue;
        const cast = onlyCast(fn);
        if (!cast) continue;
        const server = castServer(cast.site, cast.clause, mod, project);
        if (!server) continue;
        const request = cast.site.args[1];
        if (!request) continue;
        const handlers = handleCastsFor(server, request);
        if (!handlers.length) continue;
        const evidence = handlers.map((h) => failureEvidence(h, project)).find((e) => e);
        if (!evidence) continue;
        out.push(
          finding(rule, file.path, {
            node: cast.site.node,
            key: `${mod.name}.${fn.name}/${fn.arity}:${requestLabel(request)}`,
            fixable: false,
            message:
              `${fn.name}/${fn.arity} only casts ${requestLabel(request)} to ${server.name} and returns at once: the caller never learns whether it was done, ` +
              `a cast to a server that is down is dropped silently, and nothing slows a caller that outpaces it. It matters here because ${server.name}.handle_cast/2 ${evidence}. ` +
              `Use GenServer.call if callers rely on it (or bound the casts).`,
          }),
        );
      }
    return out;
  },
};

export default rule;

/** The single cast a function's every clause consists of (optionally followed by `:ok`). */
function onlyCast(fn: FunctionDef): { site: CallSite; clause: Clause } | undefined {
  let found: { site: CallSite; clause: Clause } | undefined;
  for (const clause of fn.clauses) {
    const stmts = bodyStatements(clause);
    if (!stmts.length) return undefined;
    const rest = stmts.slice(1);
    if (rest.length > 1 || (rest.length === 1 && atomValue(rest[0]) !== 'ok')) return undefined;
    const site = clause.calls.find((s) => !s.capture && CAST_PRIMITIVES.has(siteName(s)) && s.name === 'cast' && s.node.id === pipeEnd(stmts[0]).id);
    if (!site) return undefined;
    found ??= { site, clause };
  }
  return found;
}

/** The call a (possibly piped) statement ends with. */
function pipeEnd(stmt: SyntaxNode): SyntaxNode {
  let n = stmt;
  while (n.type === 'binary_operator' && n.childForFieldName('operator')?.type === '|>') n = n.childForFieldName('right')!;
  return n;
}

/** The module whose process receives a cast: by name, or the module's own handle_cast for a pid. */
function castServer(site: CallSite, clause: Clause, mod: ModuleDef, project: ProjectIndex): ModuleDef | undefined {
  const target = resolveTarget(site.args[0], clauseScope(clause), site.node.startIndex);
  if (target.kind === 'name') {
    const direct = project.modules.get(target.name);
    if (direct && isProcessModule(direct)) return direct;
    for (const m of project.modules.values()) if (namesOf(m, project).has(target.name)) return m;
    return undefined;
  }
  if (target.kind === 'param' && isProcessModule(mod) && site.args[1] && handleCastsFor(mod, site.args[1]).length) return mod;
  return undefined;
}

/** Modules whose calls reach outside the process: the filesystem, a database, the network. */
const EFFECT_MODULE = /^(File|:file|:gen_tcp|:gen_udp|:ssl|:httpc|HTTPoison|Req|Finch|Tesla|Redix|Ecto\.Adapters\.SQL|.+\.Repo)$/;

/** Public functions of the module that read the same named table without going through the server. */
function directReaders(write: CallSite, mod: ModuleDef): string[] {
  const table = write.args[0]?.text;
  if (!table) return [];
  const out: string[] = [];
  for (const fn of uniqueFunctions(mod)) {
    if (fn.kind !== 'def' || fn.isCallback) continue;
    const reads = fn.clauses.some((c) => c.calls.some((s) => s.module === ':ets' && /^(lookup|lookup_element|match|select|member|tab2list)$/.test(s.name) && s.args[0]?.text === table));
    if (reads) out.push(`${fn.name}/${fn.arity}`);
  }
  return out;
}

/** What in a handle_cast clause makes its failure matter (a phrase), or undefined. */
function failureEvidence(clause: Clause, project: ProjectIndex, depth = 0, seen = new Set<Clause>()): string | undefined {
  if (!clause.body || seen.has(clause) || depth > 3) return undefined;
  seen.add(clause);
  if (depth === 0 && isCatchAllPattern(clause.params[0])) return undefined;
  // {:stop, :normal | :shutdown, state} is a planned stop, not a failure.
  for (const tail of clause.body.descendantsOfType('tuple')) {
    const items = codeChildren(tail);
    const reason = items[1] ? (atomValue(items[1]) ?? (items[1].type === 'tuple' ? atomValue(codeChildren(items[1])[0]) : undefined)) : undefined;
    if (atomValue(items[0]) === 'stop' && depth === 0 && reason !== 'normal' && reason !== 'shutdown')
      return `can stop the server (\`${tail.text.slice(0, 40)}\`)`;
  }
  for (const site of clause.calls) {
    if (site.capture) continue;
    const name = siteName(site);
    // A raise deep in a helper is usually a guard against misuse; only the handler's own count.
    if ((name === 'raise' || name === 'reraise' || name === 'exit' || name === 'throw') && depth <= 1)
      return `can ${name} (\`${site.node.text.replace(/\s+/g, ' ').slice(0, 40)}\`)`;
    if (site.module === ':ets' && /^(insert|insert_new|delete|delete_object|update_counter|update_element|match_delete|select_delete)$/.test(site.name)) {
      const readers = directReaders(site, clause.fn.module);
      return readers.length
        ? `writes the ETS table ${site.args[0]?.text} (${name}), which ${readers.join(', ')} read directly in the caller: a caller that casts and then reads may see the old value`
        : `writes an ETS table (${name})`;
    }
    if (/^(GenServer|:gen_server|GenStage)\.call$/.test(name)) return `calls another process synchronously (${name})`;
    if (site.module && EFFECT_MODULE.test(site.module)) return `has effects outside its state (${name})`;
    if (site.name.endsWith('!') && site.module && !PURE_MODULES.has(site.module) && !calleeOf(site, clause.fn.module, project))
      return `calls ${name}, which raises on failure`;
    // Local helpers and other modules' functions in the scanned code: look inside.
    if (!site.module || !PURE_MODULES.has(site.module)) {
      const callee = calleeOf(site, clause.fn.module, project);
      if (callee && callee !== clause.fn)
        for (const c of callee.clauses) {
          const inner = failureEvidence(c, project, depth + 1, seen);
          if (inner) return `${inner} through ${callee.module === clause.fn.module ? '' : `${callee.module.name}.`}${callee.name}/${callee.arity}`;
        }
    }
  }
  return undefined;
}
