import { finding, fnLabel } from '../core/findings.js';
import { localTarget, siteName, type Clause, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import { tupleTag } from '../core/model/returns.js';
import { patternVariables, underscoreUnused } from '../core/model/vars.js';
import type { SyntaxNode } from '../core/parse.js';
import { binaryOperator, callIdentifier, codeChildren, descendants, indentAt, lineStart } from '../core/query.js';
import { LINE_LENGTH, displayWidth } from '../core/rewrite.js';
import type { Finding, Transform } from '../core/types.js';

interface Options {
  maxBatch: number;
}

/** Calls that run a function once per element of their first argument. */
const ITERATING = /^(Enum\.(each|map|flat_map|reduce|reduce_while|map_reduce|filter|reject|all\?|any\?|find|find_value|group_by|into|sort_by|uniq_by|split_with|zip_with|flat_map_reduce|each_with_index|with_index)|Stream\.(each|map|flat_map|filter|run)|Task\.async_stream|Task\.Supervisor\.async_stream(_nolink)?|:lists\.(foreach|map|foldl|foldr|filter))$/;

/** Modules of pure data functions: calling them per element costs little. */
const PURE = /^(Enum|Map|Keyword|List|String|MapSet|Tuple|Integer|Float|Atom|Kernel|Access|Stream|Range|Date|DateTime|NaiveDateTime|Time|Path|URI|Base|Bitwise|Regex|:lists|:maps|:string|:erlang|:binary|:math|:queue|:sets|:gb_sets|:gb_trees|:orddict|:proplists)$/;
/** Per-element calls that touch other processes, tables or the outside world. */
const HEAVY = /^(:ets\.(insert|insert_new|delete|update_counter|update_element|select_delete|match_delete)|Process\.(monitor|link|demonitor|exit)|GenServer\.|Registry\.(register|unregister)|DynamicSupervisor\.|Supervisor\.|Task\.|send$|Kernel\.send$|.*Repo\.|File\.|:gen_tcp\.|:ssl\.|Finch\.|Req\.|HTTPoison\.|Tesla\.|:httpc\.)/;

/** Per-element calls that wait on another process or the outside world (the rest are cheap side effects). */
const BLOCKING = /^(GenServer\.|DynamicSupervisor\.|Supervisor\.|Task\.|.*Repo\.|File\.|:gen_tcp\.|:ssl\.|Finch\.|Req\.|HTTPoison\.|Tesla\.|:httpc\.)/;

interface Evidence {
  /** `Enum.each at line 12`, `execute_batch/3 (Enum.reduce at line 40)`. */
  how: string;
  /** `heavy`: each element costs process, table or I/O work; `some`: it calls other functions. */
  work: 'heavy' | 'some';
  /** The call that makes an element heavy, for the message. */
  heavyCall?: string;
}

interface Data {
  clause: Clause;
  variable: string;
}

const rule: Transform<Options> = {
  id: 'unbounded-batch-call',
  title: 'handle_call over a caller-supplied list of any length',
  severity: 'medium',
  seedRef: '6.2',
  fixSafety: 'review',
  options: {
    maxBatch: {
      type: 'number',
      default: 1000,
      description:
        'Largest list one call may hand the server. Size it so that one batch takes the server a small fraction of the callers\' call timeout (5 s by default).',
      validate: (v) => (Number.isInteger(v) && (v as number) > 0 ? undefined : 'must be a positive integer'),
    },
  },
  explanation: `
A GenServer handles one message at a time. A \`handle_call\` that walks a list the caller sent
(\`{:batch_register, agents}\` → \`Enum.each(agents, ...)\`) does work proportional to whatever the caller
chose to send, and while it runs every other caller waits in the mailbox. A batch of 100 000 items can
hold the server for seconds: other callers hit their 5 s timeout and crash, and memory spikes while the
batch is held.

The fix bounds the batch: a new \`handle_call\` clause, placed right before the original one and
matching the same message, answers \`{:error, :batch_too_large}\` when \`length(list) > maxBatch\`. It keeps
the original clause's guard (\`when is_list(agents) and length(agents) > 1000\`), so it only takes
messages the original clause would have taken, and the clauses before it still match first. A value
that is not a list fails the guard and falls through to the original clause as before.

**Review it:** callers now get \`{:error, :batch_too_large}\` for big batches; they should split the
batch (\`Enum.chunk_every(list, max)\`) or do the per-item work in their own process and send only
the results.

Before:
\`\`\`elixir
def handle_call({:batch_register, agents}, _from, state) when is_list(agents) do
  {:reply, :ok, Enum.reduce(agents, state, &register/2)}
end
\`\`\`
After:
\`\`\`elixir
def handle_call({:batch_register, agents}, _from, state)
    when is_list(agents) and length(agents) > 1000 do
  {:reply, {:error, :batch_too_large}, state}
end

def handle_call({:batch_register, agents}, _from, state) when is_list(agents) do
  {:reply, :ok, Enum.reduce(agents, state, &register/2)}
end
\`\`\`
`,

  detect({ file }) {
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
          // Pure in-memory work per element costs microseconds: only a list far larger than any real
          // batch would hold the server up, so it is not reported.
          if (!evidence || evidence.work !== 'heavy' || bounded(variable, clause, fn)) continue;
          if (evidence.work === 'heavy') evidence.how += `, each element calls ${evidence.heavyCall}`;
          const plan = headFor(file.text, clause, variable, 1000);
          out.push(
            finding(rule, file.path, {
              node: clause.head,
              key: `${fnLabel(fn)}:${msg.text.replace(/\s+/g, ' ')}:${variable}`,
              fixable: typeof plan !== 'string',
              severity: BLOCKING.test(evidence.heavyCall ?? '') ? undefined : 'low',
              message: message(mod, clause, variable, evidence, plan),
              data: { clause, variable } satisfies Data,
            }),
          );
          break;
        }
      }
    }
    return out;
  },

  fix(f, { file, options }) {
    const { clause, variable } = f.data as Data;
    const head = headFor(file.text, clause, variable, options.maxBatch);
    if (typeof head === 'string') return { skip: head };
    const indent = indentAt(file.text, clause.node.startIndex);
    const text = `${head.text}\n${indent}  {:reply, {:error, :batch_too_large}, ${head.state}}\n${indent}end\n\n`;
    const at = lineStart(file.text, clause.node.startIndex);
    return { edits: [{ file: file.path, start: at, end: at, text }] };
  },
};

export default rule;

function message(mod: ModuleDef, clause: Clause, variable: string, evidence: Evidence, plan: unknown): string {
  const msg = clause.params[0].text.replace(/\s+/g, ' ');
  let text =
    `handle_call(${msg.length > 50 ? `${msg.slice(0, 50)}…` : msg}, ...) walks \`${variable}\`, a list the caller chose, with no limit on its length (${evidence.how}). ` +
    `${mod.name} handles one message at a time, so one large batch holds up every other caller of this process, who may time out. ` +
    `It is real when callers can send large lists (external input, imports, bulk APIs).`;
  if (typeof plan === 'string') text += ` Not rewritten: ${plan}.`;
  return text;
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
function workIn(nodes: SyntaxNode[], mod: ModuleDef): Pick<Evidence, 'work' | 'heavyCall'> | undefined {
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

/** The head of the new clause, laid out as `mix format` would, and the state variable its body uses. */
function headFor(text: string, clause: Clause, variable: string, max: number): { text: string; state: string } | string {
  const [msg, from, stateParam] = clause.params;
  if (!msg || !from || !stateParam) return 'the clause has an unexpected head';
  if ([msg, from, stateParam].some((p) => p.text.includes('\n'))) return 'its head spans several lines';
  const guard = clause.guard;
  if (guard && binaryOperator(guard) === 'when') return 'it has several `when` guards';
  const guardVars = new Set(guard ? [...descendants(guard, ['identifier'])].map((n) => n.text) : []);
  const keep = new Set([variable, ...guardVars]);
  const state = stateText(stateParam, keep);
  if (!state) return 'its state parameter gives no variable to reply with';
  const params = `${underscoreUnused(msg, keep, [from, stateParam])}, ${underscoreUnused(from, keep, [msg, stateParam])}, ${state.text}`;
  const limit = max >= 10_000 ? String(max).replace(/\B(?=(\d{3})+(?!\d))/g, '_') : String(max);
  const guardText = guard
    ? `${['or', '||'].includes(binaryOperator(guard) ?? '') ? `(${guard.text})` : guard.text} and length(${variable}) > ${limit}`
    : `length(${variable}) > ${limit}`;
  const indent = indentAt(text, clause.node.startIndex);
  const one = `${indent}def handle_call(${params}) when ${guardText} do`;
  if (displayWidth(one) <= LINE_LENGTH) return { text: one, state: state.name };
  const first = `${indent}def handle_call(${params})`;
  const second = `${indent}    when ${guardText} do`;
  if (displayWidth(first) <= LINE_LENGTH && displayWidth(second) <= LINE_LENGTH) return { text: `${first}\n${second}`, state: state.name };
  return 'the new clause head would need a layout this rule does not produce';
}

/** The state parameter, keeping (or adding) a variable to reply with. */
function stateText(param: SyntaxNode, keep: Set<string>): { text: string; name: string } | undefined {
  if (param.type === 'identifier') {
    if (!param.text.startsWith('_')) return { text: param.text, name: param.text };
    return keep.has('state') ? undefined : { text: 'state', name: 'state' };
  }
  if (binaryOperator(param) === '=') {
    for (const side of [param.childForFieldName('right'), param.childForFieldName('left')])
      if (side?.type === 'identifier' && !side.text.startsWith('_'))
        return { text: underscoreUnused(param, new Set([...keep, side.text])), name: side.text };
  }
  if (keep.has('state') || patternVariables(param).has('state')) return undefined;
  return { text: `${underscoreUnused(param, keep)} = state`, name: 'state' };
}
