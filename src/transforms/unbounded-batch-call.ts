import { finding, fnLabel, where } from '../core/findings.js';
import { localTarget, siteName, uniqueFunctions, type Clause, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import { tupleTag } from '../core/model/returns.js';
import { patternVariables } from '../core/model/vars.js';
import type { SyntaxNode } from '../core/parse.js';
import { binaryOperator, callIdentifier, codeChildren, descendants } from '../core/query.js';
import type { Finding, Transform } from '../core/types.js';

type Options = Record<string, never>;

/** Calls that run a function once per element of their first argument. */
const ITERATING = /^(Enum\.(each|map|flat_map|reduce|reduce_while|map_reduce|filter|reject|all\?|any\?|find|find_value|group_by|into|sort_by|uniq_by|split_with|zip_with|flat_map_reduce|each_with_index|with_index)|Stream\.(each|map|flat_map|filter|run)|Task\.async_stream|Task\.Supervisor\.async_stream(_nolink)?|:lists\.(foreach|map|foldl|foldr|filter))$/;

/** Modules of pure data functions: calling them per element costs little. */
const PURE = /^(Enum|Map|Keyword|List|String|MapSet|Tuple|Integer|Float|Atom|Kernel|Access|Stream|Range|Date|DateTime|NaiveDateTime|Time|Path|URI|Base|Bitwise|Regex|:lists|:maps|:string|:erlang|:binary|:math|:queue|:sets|:gb_sets|:gb_trees|:orddict|:proplists)$/;
/** Per-element calls that wait (another process, the disk, the network): each costs a round trip. */
const WAITING = /^(GenServer\.(call|multi_call)|DynamicSupervisor\.|Supervisor\.|Task\.(await|yield|async)|.*Repo\.|File\.|:gen_tcp\.|:ssl\.|Finch\.|Req\.|HTTPoison\.|Tesla\.|:httpc\.|:rpc\.|:erpc\.)/;
/** Per-element calls that touch other processes, tables or the outside world. */
const HEAVY = /^(:ets\.(insert|insert_new|delete|update_counter|update_element|select_delete|match_delete)|Process\.(monitor|link|demonitor|exit)|GenServer\.|Registry\.(register|unregister)|DynamicSupervisor\.|Supervisor\.|Task\.|send$|Kernel\.send$|.*Repo\.|File\.|:gen_tcp\.|:ssl\.|Finch\.|Req\.|HTTPoison\.|Tesla\.|:httpc\.)/;

interface Evidence {
  /** `Enum.each at line 12`, `execute_batch/3 (Enum.reduce at line 40)`. */
  how: string;
  /** `heavy`: each element costs process, table or I/O work; `some`: it calls other functions. */
  work: 'heavy' | 'some';
  /** The call that makes an element heavy, for the message. */
  heavyCall?: string;
}

const rule: Transform<Options> = {
  id: 'unbounded-batch-call',
  title: 'handle_call over a caller-supplied list of any length',
  severity: 'medium',
  seedRef: '6.2',
  fixSafety: 'none',
  harm: 'A handle_call that does process, table or I/O work for every element of a list its caller chose holds the server for time proportional to that list; callers queued behind it time out. Real only where callers can send long lists: the list comes from a caller\'s argument, not from config, a literal or the cluster\'s members.',
  options: {},
  explanation: `
A GenServer handles one message at a time. A \`handle_call\` that walks a list the caller sent
(\`{:batch_register, agents}\` → \`Enum.each(agents, ...)\`) and does process, table or I/O work for
each element (\`:ets.insert\`, \`Process.monitor\`, \`GenServer.call\`, \`Repo.insert\`, ...) works
for as long as the caller's list is long, and while it runs every other caller waits in the mailbox.
A batch of 100 000 items can hold the server for seconds: other callers hit their 5 s timeout and
crash.

It is reported only when the list is the caller's to choose: the element work is more than pure data
work, and the callers in the project do not send a bounded list (a literal, config, \`Node.list()\`).
A length guard or an \`Enum.take\`/\`chunk_every\` on the list counts as a bound. Elements that wait
(a call, a query, I/O) make it medium; table writes, monitors and sends (microseconds each) low.

**Detect only.** A length limit that answers \`{:error, :batch_too_large}\` changes the call's contract:
callers that match \`{:ok, n}\` or \`:ok\` crash. How to fix it by hand, keeping the contract:
- split on the caller's side, in the public function that sends the message
  (\`list |> Enum.chunk_every(500) |> Enum.each(&GenServer.call(server, {:batch, &1}))\`), when a
  batch need not be applied at once (other callers may see part of it);
- or do the per-item work in the caller (or a Task) and send the server only the results;
- or reply later: process a chunk, \`send(self(), {:next_chunk, ...})\`, reply with
  \`GenServer.reply(from, ...)\` after the last chunk, so other messages are served in between.

Before:
\`\`\`elixir
def register_many(agents), do: GenServer.call(__MODULE__, {:register_many, agents})

def handle_call({:register_many, agents}, _from, state) do
  Enum.each(agents, fn a -> :ets.insert(@table, {a.id, a}) end)
  {:reply, :ok, state}
end
\`\`\`
After (split on the caller's side):
\`\`\`elixir
def register_many(agents) do
  agents
  |> Enum.chunk_every(500)
  |> Enum.each(&GenServer.call(__MODULE__, {:register_many, &1}))
end
\`\`\`
`,

  detect({ file, project }) {
    const out: Finding[] = [];
    for (const mod of file.modules) {
      if (!mod.kinds.has('genserver') && !mod.kinds.has('gen_stage')) continue;
      const fn = mod.functions.get('handle_call/3');
      if (!fn?.isCallback) continue;
      for (const clause of fn.clauses) {
        const msg = clause.params[0];
        if (!msg || !clause.body) continue;
        for (const variable of patternVariables(msg)) {
          if (variable.startsWith('_') || msg.type === 'identifier') continue;
          const evidence = iterationOf(variable, clause, 0);
          // Pure data work per element (Map.put, a struct update) is cheap: not a batch worth reporting.
          if (evidence?.work !== 'heavy' || bounded(variable, clause, fn)) continue;
          const senders = sendersOf(project, mod, msg, variable);
          if (senders.length && senders.every((s) => s.bounded)) continue;
          evidence.how += `, each element calls ${evidence.heavyCall}`;
          // Table writes, monitors and sends cost microseconds: only a huge list holds the server long.
          const waits = WAITING.test(evidence.heavyCall ?? '');
          out.push(
            finding(rule, file.path, {
              node: clause.head,
              key: `${fnLabel(fn)}:${msg.text.replace(/\s+/g, ' ')}:${variable}`,
              fixable: false,
              severity: waits ? undefined : 'low',
              message: message(mod, clause, variable, evidence, senders),
            }),
          );
          break;
        }
      }
    }
    return out;
  },

};

export default rule;

function message(mod: ModuleDef, clause: Clause, variable: string, evidence: Evidence, senders: Sender[]): string {
  const msg = clause.params[0].text.replace(/\s+/g, ' ');
  const from = senders.filter((s) => !s.bounded);
  let text =
    `handle_call(${msg.length > 50 ? `${msg.slice(0, 50)}…` : msg}, ...) walks \`${variable}\`, a list the caller chose, with no limit on its length (${evidence.how}). ` +
    `${mod.name} handles one message at a time, so one large batch holds up every other caller of this process, who may time out.`;
  text += from.length
    ? ` The list comes from ${from.slice(0, 3).map((s) => s.where).join(', ')}${from.length > 3 ? ` and ${from.length - 3} more` : ''}.`
    : ' No sender of this message in the scanned code shows where the list comes from; it is real when callers can send large lists (external input, imports, bulk APIs).';
  text +=
    ' Detect only: a length limit with a new error reply would break callers that match the current reply. By hand: split the list in the public function that sends it (Enum.chunk_every), or do the per-item work in the caller and send only the results, or process it in chunks across messages and reply with GenServer.reply/2 at the end.';
  return text;
}

interface SentMessage {
  arg: SyntaxNode[];
  clause: Clause;
  where: string;
}

interface Sender {
  where: string;
  bounded: boolean;
}

/** Sources of lists whose length the code fixes: config, cluster members, module attributes. */
const BOUNDED_SOURCE = /^(Node\.list|:erlang\.nodes|Application\.(get_env|fetch_env!|fetch_env|get_all_env)|:persistent_term\.get)$/;

/**
 * Every `GenServer.call` in the project that sends this message (same tag and size), and whether the
 * list it sends is bounded by the code (a literal list, config, `Node.list()`, a module attribute).
 */
function sendersOf(project: ProjectIndex, mod: ModuleDef, msg: SyntaxNode, variable: string): Sender[] {
  const items = msg.type === 'tuple' ? codeChildren(msg) : [];
  const tag = items[0]?.type === 'atom' ? items[0].text : undefined;
  const index = items.findIndex((i) => i.type === 'identifier' && i.text === variable);
  if (!tag || index < 0) return [];
  const all = project.memo('unbounded-batch-call:senders', () => {
    const bySig = new Map<string, SentMessage[]>();
    for (const file of project.files)
      for (const m of file.modules)
        for (const fn of uniqueFunctions(m))
          for (const clause of fn.clauses)
            for (const site of clause.calls) {
              if (!/^(GenServer|:gen_server)\.call$/.test(siteName(site))) continue;
              const sent = site.args[1];
              const parts = sent?.type === 'tuple' ? codeChildren(sent) : undefined;
              if (!parts || parts[0]?.type !== 'atom') continue;
              const sig = `${parts[0].text}/${parts.length}`;
              bySig.set(sig, [...(bySig.get(sig) ?? []), { arg: parts, clause, where: where(file.relPath, site.node) }]);
            }
    return bySig;
  });
  void mod;
  return (all.get(`${tag}/${items.length}`) ?? []).map((s: SentMessage) => ({ where: s.where, bounded: boundedList(s.arg[index], s.clause, 0) }));
}

function boundedList(node: SyntaxNode | undefined, clause: Clause, depth: number): boolean {
  if (!node || depth > 3) return false;
  if (node.type === 'list') return !/\|/.test(node.text.replace(/"[^"]*"/g, ''));
  if (node.type === 'unary_operator' && node.child(0)?.type === '@') return true;
  if (node.type === 'call') {
    const target = node.childForFieldName('target');
    if (target?.type === 'dot' && BOUNDED_SOURCE.test(target.text)) return true;
  }
  if (binaryOperator(node) === '|>') return boundedList(node.childForFieldName('left') ?? undefined, clause, depth + 1) && /^(Enum\.(map|filter|reject|uniq|sort|take)|List\.|Keyword\.)/.test(node.childForFieldName('right')?.text ?? '');
  if (node.type === 'identifier' && clause.body) {
    // A variable bound in the sender's clause from a bounded source; a parameter is the caller's choice.
    for (const stmt of codeChildren(clause.body)) {
      if (binaryOperator(stmt) !== '=') continue;
      const left = stmt.childForFieldName('left');
      if (left?.type === 'identifier' && left.text === node.text) return boundedList(stmt.childForFieldName('right') ?? undefined, clause, depth + 1);
    }
  }
  return false;
}

/** How the clause (or a local helper it hands the variable to) walks `variable`, doing work per element. */
function iterationOf(variable: string, clause: Clause, depth: number): Evidence | undefined {
  const line = (n: SyntaxNode) => n.startPosition.row + 1;
  const mod = clause.fn.module;
  for (const site of clause.calls) {
    if (site.capture || site.spawned) continue;
    const argIndex = site.args.findIndex((a) => a.type === 'identifier' && a.text === variable);
    if (argIndex < 0) continue;
    if (argIndex === 0 && ITERATING.test(siteName(site))) {
      const work = workIn(site.args.slice(1), mod);
      if (work) return { how: `${siteName(site)} at line ${line(site.node)}`, ...work };
      continue;
    }
    if (depth >= 3) continue;
    const callee = localTarget(site, mod);
    if (!callee || callee === clause.fn) continue;
    for (const calleeClause of callee.clauses) {
      const param = calleeClause.params[argIndex];
      const name = param && paramName(param);
      const deeper = name ? iterationOf(name, calleeClause, depth + 1) : undefined;
      if (deeper) return { ...deeper, how: `passed to ${callee.name}/${callee.arity}, ${deeper.how}` };
    }
  }
  if (clause.body)
    for (const node of descendants(clause.body, ['call']))
      if (callIdentifier(node) === 'for') {
        const args = codeChildren(node.namedChildren.find((c) => c.type === 'arguments')!);
        const gens = args.filter((a) => binaryOperator(a) === '<-');
        if (!gens.some((g) => g.childForFieldName('right')?.text === variable)) continue;
        const body = [...args.filter((a) => a.type === 'keywords'), ...node.namedChildren.filter((c) => c.type === 'do_block')];
        const work = workIn(body, mod);
        if (work) return { how: `for comprehension at line ${line(node)}`, ...work };
      }
  return undefined;
}

/** What per-element code costs: calls to other processes, tables or I/O (`heavy`), or to other functions (`some`). */
function workIn(nodes: SyntaxNode[], mod: ModuleDef, depth = 0, seen: Set<FunctionDef> = new Set()): Pick<Evidence, 'work' | 'heavyCall'> | undefined {
  let some = false;
  for (const root of nodes)
    for (const node of descendants(root, ['call', 'unary_operator'])) {
      let name: string | undefined;
      if (node.type === 'call') {
        const target = node.childForFieldName('target');
        if (target?.type === 'identifier') name = SPECIAL.has(target.text) ? undefined : target.text;
        else if (target?.type === 'dot' && node.namedChildren.some((c) => c.type === 'arguments')) name = target.text;
      } else if (node.type === 'unary_operator' && node.child(0)?.type === '&') {
        const operand = node.childForFieldName('operand');
        if (binaryOperator(operand!) === '/') name = operand!.childForFieldName('left')?.text;
      }
      if (!name) continue;
      const resolved = name.includes('.') ? name.replace(/^[A-Z][\w.]*(?=\.[^.]+$)/, (m) => mod.aliases.get(m.split('.')[0]) ? resolveAlias(m, mod) : m) : name;
      if (HEAVY.test(resolved)) return { work: 'heavy', heavyCall: resolved };
      // A local helper run per element: its own calls decide.
      if (!resolved.includes('.') && depth < 3)
        for (const fn of uniqueFunctions(mod).filter((f) => f.name === resolved && !seen.has(f))) {
          seen.add(fn);
          const inner = workIn(fn.clauses.flatMap((c) => (c.body ? [c.body] : [])), mod, depth + 1, seen);
          if (inner?.work === 'heavy') return { work: 'heavy', heavyCall: `${inner.heavyCall} (in ${fn.name}/${fn.arity})` };
        }
      const module = resolved.includes('.') ? resolved.slice(0, resolved.lastIndexOf('.')) : undefined;
      if (module ? !PURE.test(module) : !KERNEL_PURE.has(resolved)) some = true;
    }
  return some ? { work: 'some' } : undefined;
}

function resolveAlias(text: string, mod: ModuleDef): string {
  const [first, ...rest] = text.split('.');
  return [mod.aliases.get(first) ?? first, ...rest].join('.');
}

const SPECIAL = new Set(['fn', 'case', 'cond', 'if', 'unless', 'with', 'for', 'try', 'receive', 'quote', 'raise', 'throw']);
/** Kernel functions that only compute. */
const KERNEL_PURE = new Set(['is_atom', 'is_binary', 'is_list', 'is_map', 'is_integer', 'is_pid', 'is_tuple', 'elem', 'put_elem', 'hd', 'tl', 'length', 'map_size', 'tuple_size', 'to_string', 'inspect', 'max', 'min', 'abs', 'div', 'rem', 'not', 'match?', 'struct', 'get_in', 'put_in', 'update_in', 'then', 'tap']);

/** `list` or `[_ | _] = list` → `list`. */
function paramName(param: SyntaxNode): string | undefined {
  if (param.type === 'identifier') return param.text;
  if (binaryOperator(param) === '=') {
    const right = param.childForFieldName('right');
    const left = param.childForFieldName('left');
    if (right?.type === 'identifier') return right.text;
    if (left?.type === 'identifier') return left.text;
  }
  return undefined;
}

const LENGTH_CHECK = (v: string) => new RegExp(`\\b(length|Enum\\.count)\\(\\s*${v}\\s*\\)|\\b${v}\\s*\\|>\\s*(length|Enum\\.count)\\b|Enum\\.(take|slice|chunk_every)\\(\\s*${v}\\b`);

/** Already bounded: a length check or a take in this clause, or a clause with a length guard for the same message. */
function bounded(variable: string, clause: Clause, fn: FunctionDef): boolean {
  const check = LENGTH_CHECK(variable);
  if (clause.guard && check.test(clause.guard.text)) return true;
  if (clause.body)
    for (const node of descendants(clause.body, ['binary_operator', 'call'])) {
      const op = binaryOperator(node);
      if (op && ['>', '<', '>=', '<=', '==', '!='].includes(op) && check.test(node.text)) return true;
      if (node.type === 'call' && /^Enum\.(take|slice|chunk_every)$/.test(node.childForFieldName('target')?.text ?? '') && check.test(node.text)) return true;
    }
  const tag = tupleTag(clause.params[0]);
  return fn.clauses.some(
    (other) => other !== clause && other.guard && check.test(other.guard.text) && tupleTag(other.params[0]) === tag,
  );
}
