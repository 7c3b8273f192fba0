import { finding } from '../core/findings.js';
import { literalAtom, localTarget, siteName, uniqueFunctions, type Clause, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import { tailsOf, tupleItems, tupleTag } from '../core/model/returns.js';
import type { SyntaxNode } from '../core/parse.js';
import { binaryOperator, descendants, keywordPairs } from '../core/query.js';
import { bodyStatements } from '../core/rewrite.js';
import type { Finding, Transform } from '../core/types.js';

interface Options {
  minCalls: number;
}

const rule: Transform<Options> = {
  id: 'singleton-bottleneck',
  title: 'All reads and writes through one named GenServer',
  severity: 'low',
  seedRef: '8.1',
  fixSafety: 'none',
  options: {
    minCalls: {
      type: 'number',
      default: 5,
      description: 'Report a module only when at least this many public functions go through the one named process.',
      validate: (v) => (Number.isInteger(v) && (v as number) > 1 ? undefined : 'must be an integer above 1'),
    },
  },
  explanation: `
**Detect only, low severity: a design note, not a bug.** A GenServer registered under one fixed name
(\`name: __MODULE__\`) whose public API sends every operation — reads included — through
\`GenServer.call\` serializes all of them: one process, one message at a time, on one scheduler. Under
load every read waits behind every write and every other read, the mailbox grows, and callers hit their
5 s timeout.

Whether that matters is a question of call volume: measure first (\`Process.info(pid,
:message_queue_len)\`, \`:sys.statistics/2\`, call latency via telemetry). When it does:

- **Reads from ETS**: the server owns a \`:protected\` table created with \`read_concurrency: true\`
  and writes it in its callbacks; public read functions do \`:ets.lookup\` in the caller's process, in
  parallel, without a message. Writes stay serialized (and consistent) through the server.
- **Partition**: several servers, each owning a slice of the keys — \`PartitionSupervisor\` with
  \`{:via, PartitionSupervisor, {name, key}}\`, or \`Registry\` for one process per entity.

Silent when reads already go to ETS (the seed's registry: "reads use direct ETS access" — writes through
one server are then a deliberate single writer).

Before:
\`\`\`elixir
def get(key), do: GenServer.call(__MODULE__, {:get, key})
def handle_call({:get, key}, _from, state), do: {:reply, Map.get(state.data, key), state}
\`\`\`
After:
\`\`\`elixir
def get(key) do
  case :ets.lookup(__MODULE__, key) do
    [{^key, value}] -> value
    [] -> nil
  end
end
# init/1: :ets.new(__MODULE__, [:named_table, :protected, read_concurrency: true])
\`\`\`
`,

  detect({ file, options }) {
    const out: Finding[] = [];
    for (const mod of file.modules) {
      if (!mod.kinds.has('genserver')) continue;
      const name = registeredName(mod);
      if (!name) continue;
      const api = apiCalls(mod, name);
      if (api.length < options.minCalls) continue;
      const handlers = mod.functions.get('handle_call/3');
      const reads = api.filter((a) => a.kind === 'call' && handlers && isRead(a.tag, handlers));
      const writes = api.filter((a) => !reads.includes(a));
      if (!reads.length || !writes.length) continue;
      const label = (xs: typeof api) => xs.slice(0, 5).map((a) => `${a.fn.name}/${a.fn.arity}`).join(', ') + (xs.length > 5 ? ', …' : '');
      out.push(
        finding(rule, file.path, {
          node: mod.node.namedChildren.find((c) => c.type === 'arguments') ?? mod.node,
          key: `${mod.name}:singleton`,
          fixable: false,
          message:
            `${api.length} public functions of ${mod.name} go through the one process registered as ${name === mod.name ? '__MODULE__' : `:${name}`}: ` +
            `${reads.length} read${reads.length > 1 ? 's that return' : ' that returns'} state unchanged (${label(reads)}) and ${writes.length} write${writes.length > 1 ? 's' : ''} (${label(writes)}). ` +
            `Every read waits behind every write and every other read. This matters only under high call volume: measure the mailbox and call latency, then serve reads from a :protected ETS table with read_concurrency, or partition the data.`,
        }),
      );
    }
    return out;
  },
};

export default rule;

/** The fixed name the module registers under (`name: __MODULE__`, `name: @name`, `name: :atom`). */
function registeredName(mod: ModuleDef): string | undefined {
  for (const fn of uniqueFunctions(mod))
    for (const clause of fn.clauses)
      for (const site of clause.calls) {
        if (siteName(site) !== 'GenServer.start_link' && siteName(site) !== 'GenServer.start') continue;
        const value = keywordPairs(site.args[2])?.find((p) => p.key === 'name')?.value;
        const name = literalAtom(value, mod);
        if (name) return name;
      }
  return undefined;
}

interface ApiCall {
  fn: FunctionDef;
  kind: 'call' | 'cast';
  tag?: string;
}

function apiCalls(mod: ModuleDef, name: string): ApiCall[] {
  const out: ApiCall[] = [];
  for (const fn of uniqueFunctions(mod)) {
    if (fn.kind !== 'def' || fn.isCallback || fn.context !== 'caller') continue;
    for (const clause of fn.clauses) {
      const site = clause.calls.find((s) => /^GenServer\.(call|cast)$/.test(siteName(s)) && literalAtom(s.args[0], mod) === name);
      if (!site) continue;
      out.push({ fn, kind: site.name === 'call' ? 'call' : 'cast', tag: messageTag(site.args[1]) });
      break;
    }
  }
  return out;
}

function messageTag(node: SyntaxNode | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type === 'atom') return node.text.slice(1);
  return tupleTag(node);
}

/** Every handle_call clause for this message replies with the state it was given. */
function isRead(tag: string | undefined, handlers: FunctionDef): boolean {
  if (!tag) return false;
  const clauses = handlers.clauses.filter((c) => messageTag(c.params[0]) === tag);
  return clauses.length > 0 && clauses.every(repliesUnchanged);
}

/** Calls that change something outside the state (tables, other processes, files). */
const EFFECTS = /^(:ets\.(insert|insert_new|delete|delete_object|delete_all_objects|update_counter|update_element|select_delete|match_delete|take)|send|Kernel\.send|Process\.|GenServer\.|:persistent_term\.(put|erase)|File\.|Registry\.(register|unregister)|:telemetry\.execute)/;

function hasEffects(fn: FunctionDef, clause: Clause | undefined, seen: Set<FunctionDef>): boolean {
  for (const c of clause ? [clause] : fn.clauses)
    for (const site of c.calls) {
      if (EFFECTS.test(siteName(site))) return true;
      const local = localTarget(site, fn.module);
      if (local && !seen.has(local)) {
        seen.add(local);
        if (hasEffects(local, undefined, seen)) return true;
      }
    }
  return false;
}

function repliesUnchanged(clause: Clause): boolean {
  const state = stateVariable(clause.params[2]);
  if (!state) return false;
  // Rebinding the state variable or changing the world is a write, whatever the reply looks like.
  if (clause.body && [...descendants(clause.body)].some((n) => binaryOperator(n) === '=' && [...descendants(n.childForFieldName('left')!)].some((i) => i.type === 'identifier' && i.text === state))) return false;
  if (hasEffects(clause.fn, clause, new Set([clause.fn]))) return false;
  const tails = tailsOf(bodyStatements(clause));
  return tails.complete && tails.nodes.every((t) => tupleTag(t) === 'reply' && tupleItems(t)?.[2]?.text === state);
}

function stateVariable(param: SyntaxNode | undefined): string | undefined {
  if (!param) return undefined;
  if (param.type === 'identifier') return param.text;
  if (binaryOperator(param) === '=')
    for (const side of [param.childForFieldName('right'), param.childForFieldName('left')]) if (side?.type === 'identifier') return side.text;
  return undefined;
}
