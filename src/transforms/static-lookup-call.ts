import { tailExpressions } from '../core/callback-rewrite.js';
import { finding } from '../core/findings.js';
import { callersOf, handleCallsFor, requestLabel, serverOf, syncCallsOf, type SyncCall } from '../core/model/calls.js';
import type { ProjectIndex } from '../core/model/project.js';
import { uniqueFunctions, type Clause, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import type { SyntaxNode } from '../core/parse.js';
import { atomValue, binaryOperator, callArguments, codeChildren, keywordText } from '../core/query.js';
import type { Finding, Transform } from '../core/types.js';

const rule: Transform = {
  id: 'static-lookup-call',
  title: 'GenServer.call to read a value that never changes',
  severity: 'low',
  seedRef: '10.2',
  fixSafety: 'none',
  options: {},
  explanation: `
Detect only. A public function that asks a GenServer for a value with \`GenServer.call\` pays a round
trip through the server's mailbox on every use: two messages, two context switches, and a wait behind
whatever the server is doing (a slow \`handle_call\` delays every reader). When the value is set in
\`init/1\` and no callback ever changes it — a table name, a configuration map, a pool size — the
server adds nothing but that wait, and under load it becomes a bottleneck for every caller.

**What is reported.** A \`GenServer.call\` made on behalf of callers (in a public function or a helper
it uses) whose request is answered by exactly one \`handle_call\` clause that returns a field of the
state unchanged (\`{:reply, state.table, state}\`, or a variable bound from \`%{table: t} = state\`), and
that field is set in \`init/1\` and written by no other function of the server (no \`%{s | table: ...}\`,
\`Map.put(s, :table, ...)\`, \`put_in\`, nor a new state map with that key).

**How to fix by hand.** Publish the value once, where it is set, and read it without the server:
\`:persistent_term.put({__MODULE__, :table}, table)\` in \`init/1\` and \`:persistent_term.get(...)\` in
the public function (cheap reads; writes are expensive, fine for a value set once); or a named ETS table
(\`:ets.new(__MODULE__, [:named_table, read_concurrency: true])\`) read directly by callers; or pass the
value to callers at start (a registry value, a config).

\`\`\`elixir
# Before
def get(cache, key), do: :ets.lookup(GenServer.call(cache, :get_table_name), key)
def handle_call(:get_table_name, _from, state), do: {:reply, state.table, state}

# After
def init(opts) do
  table = :ets.new(:cache, [:set, :public, read_concurrency: true])
  :persistent_term.put({__MODULE__, opts[:name]}, table)
  {:ok, %{table: table}}
end
def get(cache, key), do: :ets.lookup(:persistent_term.get({__MODULE__, cache}), key)
\`\`\`
`,

  detect({ file, project }) {
    const out: Finding[] = [];
    for (const mod of file.modules)
      for (const fn of uniqueFunctions(mod)) {
        if (fn.isCallback || !(fn.context === 'caller' || fn.context === 'both')) continue;
        for (const call of syncCallsOf(fn, project)) {
          if (call.hops.length || !call.request || !call.primitive.endsWith('.call')) continue;
          const server = serverOf(call, call.target, mod, project);
          if (!server) continue;
          const field = staticField(server.module, call);
          if (!field) continue;
          // Asked once per start (only from init/1 callbacks): the round trip costs nothing worth a finding.
          const askers = entryPoints(fn, project);
          if (askers.length && askers.every((u) => u.isCallback && u.name === 'init')) continue;
          const key = `${mod.name}.${fn.name}/${fn.arity}:${server.module.name}:${requestLabel(call.request)}`;
          const users = fn.kind === 'defp' ? publicUsers(fn) : [];
          const who = `${fn.name}/${fn.arity}${users.length ? ` (used by ${users.slice(0, 4).join(', ')}${users.length > 4 ? ', ...' : ''})` : ''}`;
          out.push(
            finding(rule, file.path, {
              node: call.site.node,
              key,
              fixable: false,
              message:
                `${who} runs in its callers and asks ${server.module.name} for ${requestLabel(call.request)} with ${call.primitive}; ` +
                `${server.module.name}.handle_call/3 answers with the state's :${field.name}, which ${field.setIn} sets and no other function changes. ` +
                `Every use is a round trip through ${server.module.name}'s mailbox, waiting behind its other work: publish the value once (:persistent_term, or a named ETS table read by callers) and read it directly.`,
            }),
          );
        }
      }
    return out;
  },
};

export default rule;

interface StaticField {
  name: string;
  setIn: string;
}

/** The state field a request reads, when it is set in init and never written elsewhere. */
function staticField(server: ModuleDef, call: SyncCall): StaticField | undefined {
  const clauses = handleCallsFor(server, call.request!);
  if (clauses.length !== 1) return undefined;
  const clause = clauses[0];
  const field = repliedField(clause);
  if (!field) return undefined;
  const init = server.functions.get('init/1');
  if (!init || !init.clauses.some((c) => c.body && setsKey(c.body, field))) return undefined;
  for (const fn of uniqueFunctions(server)) {
    if (fn === init || onlyFromInit(fn, init)) continue;
    for (const c of fn.clauses) if (c.body && writesKey(c.body, field)) return undefined;
  }
  return { name: field, setIn: 'init/1' };
}

/** `{:reply, state.f, state}`, `{:reply, t, state}` with `%{f: t} = state`, `Map.get(state, :f)`. */
function repliedField(clause: Clause): string | undefined {
  const statePattern = clause.params[2];
  if (!clause.body || !statePattern) return undefined;
  const tails = tailExpressions(clause.body, clause.oneLiner);
  if (tails.length !== 1) return undefined;
  const items = tails[0].type === 'tuple' ? codeChildren(tails[0]) : [];
  if (atomValue(items[0]) !== 'reply' || items.length !== 3) return undefined;
  const stateName = nameIn(statePattern);
  if (!stateName || items[2].text !== stateName) return undefined;
  if (clause.body.descendantsOfType('binary_operator').some((op) => binaryOperator(op) === '=' && op.childForFieldName('left')?.text === stateName)) return undefined;
  const value = items[1];
  // state.field
  if (value.type === 'call' && !value.namedChildren.some((c) => c.type === 'arguments')) {
    const target = value.childForFieldName('target');
    if (target?.type === 'dot' && target.childForFieldName('left')?.text === stateName) return target.childForFieldName('right')?.text;
  }
  // Map.get(state, :field) / Map.fetch!(state, :field)
  if (value.type === 'call' && /^Map\.(get|fetch!)$/.test(value.childForFieldName('target')?.text ?? '')) {
    const [base, key] = callArguments(value);
    if (base?.text === stateName) return atomValue(key);
  }
  // A variable bound from the state pattern: %{table: t} = state
  if (value.type === 'identifier') {
    for (const pair of statePattern.descendantsOfType('pair')) {
      if (pair.childForFieldName('value')?.text === value.text) {
        const key = pair.childForFieldName('key');
        if (key) return keywordText(key);
      }
    }
  }
  return undefined;
}

function nameIn(param: SyntaxNode): string | undefined {
  if (param.type === 'identifier') return param.text;
  if (binaryOperator(param) === '=') {
    const l = param.childForFieldName('left');
    const r = param.childForFieldName('right');
    return r?.type === 'identifier' ? r.text : l?.type === 'identifier' ? l.text : undefined;
  }
  return undefined;
}

/** A `key: value` pair of a map or struct literal (or a map update), not of a keyword list. */
function mapPairs(body: SyntaxNode, key: string): SyntaxNode[] {
  return body.descendantsOfType('pair').filter((p) => {
    const k = p.childForFieldName('key');
    if (!k || keywordText(k) !== key) return false;
    if (inPattern(p, body)) return false;
    for (let n = p.parent, i = 0; n && i < 3; n = n.parent, i++) if (n.type === 'map_content') return true;
    return false;
  });
}

/** Whether a node sits in a pattern (`%{k: v} = state`, a case clause head): it reads, not writes. */
function inPattern(node: SyntaxNode, root: SyntaxNode): boolean {
  for (let n: SyntaxNode = node; n.parent && n.id !== root.id; n = n.parent) {
    const parent = n.parent;
    if (binaryOperator(parent) === '=' && parent.childForFieldName('left')?.id === n.id) return true;
    if (binaryOperator(parent) === '<-' && parent.childForFieldName('left')?.id === n.id) return true;
    if (parent.type === 'stab_clause' && parent.childForFieldName('left')?.id === n.id) return true;
  }
  return false;
}

/** Whether code builds a map or struct with `key` (the initial state). */
function setsKey(body: SyntaxNode, key: string): boolean {
  return mapPairs(body, key).length > 0;
}

/** Whether code may write `key` of a state: a map update, Map.put/update/replace, put_in, or a new map with it. */
function writesKey(body: SyntaxNode, key: string): boolean {
  if (mapPairs(body, key).length) return true;
  for (const call of body.descendantsOfType('call')) {
    const target = call.childForFieldName('target')?.text ?? '';
    const args = callArguments(call);
    if (/^Map\.(put|update!?|replace!?|merge|put_new)$/.test(target) && args.some((a) => atomValue(a) === key)) return true;
    if (/^Map\.merge$/.test(target)) return true;
    if (/^(put_in|update_in|Kernel\.put_in|Kernel\.update_in|get_and_update_in)$/.test(target) && args.some((a) => a.text.includes(key))) return true;
    if (target === 'struct' || target === 'struct!' || target === 'Kernel.struct') return true;
  }
  return false;
}

/** The functions that call `fn`, through private helpers, up to the first public function or callback. */
function entryPoints(fn: FunctionDef, project: ProjectIndex): FunctionDef[] {
  const out = new Set<FunctionDef>();
  const seen = new Set<FunctionDef>([fn]);
  const queue = [fn];
  while (queue.length) {
    const target = queue.shift()!;
    const callers = callersOf(target, project);
    if (!callers.length && target !== fn) out.add(target);
    for (const { fn: caller } of callers) {
      if (seen.has(caller)) continue;
      seen.add(caller);
      if (caller.isCallback || caller.kind === 'def') {
        // A public function: follow it one more level to see who asks (callbacks stop the walk).
        if (caller.isCallback) out.add(caller);
        else queue.push(caller);
      } else queue.push(caller);
    }
  }
  return [...out];
}

/** The public functions of the module that reach a private helper through local calls. */
function publicUsers(fn: FunctionDef): string[] {
  const out: string[] = [];
  const seen = new Set<FunctionDef>([fn]);
  const queue = [fn];
  while (queue.length) {
    const target = queue.shift()!;
    for (const f of uniqueFunctions(fn.module)) {
      if (seen.has(f) || !f.clauses.some((c) => c.calls.some((s) => !s.capture && (!s.module || s.module === fn.module.name) && s.name === target.name && s.arity === target.arity))) continue;
      seen.add(f);
      if (f.kind === 'def') out.push(`${f.name}/${f.arity}`);
      else queue.push(f);
    }
  }
  return out;
}

/** A private helper that only init/1 reaches (it builds the initial state). */
function onlyFromInit(fn: FunctionDef, init: FunctionDef, seen = new Set<FunctionDef>()): boolean {
  if (fn.kind !== 'defp' || seen.has(fn)) return false;
  seen.add(fn);
  const callers = uniqueFunctions(fn.module).filter((f) =>
    f.clauses.some((c) => c.calls.some((s) => !s.module && s.name === fn.name && s.arity === fn.arity)),
  );
  return callers.length > 0 && callers.every((f) => f === init || onlyFromInit(f, init, seen));
}
