import { tailExpressions } from '../core/callback-rewrite.js';
import { finding } from '../core/findings.js';
import {
  describeHops,
  displayName,
  entrySite,
  handleCallsFor,
  namesOf,
  requestLabel,
  syncCallsOf,
  type SyncCall,
  type Target,
} from '../core/model/calls.js';
import { isProcessModule, uniqueFunctions, type Clause, type FileModel, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import type { SyntaxNode } from '../core/parse.js';
import { atomValue, binaryOperator, codeChildren, indentAt } from '../core/query.js';
import { bodyStatements, clauseText, definitionEnd, memberIndent } from '../core/rewrite.js';
import type { Edit, Finding, Transform } from '../core/types.js';

interface Data {
  callback: string;
  call: SyncCall;
  decline?: string;
  plan?: Plan;
}

/** What the fix needs, checked at detection. */
interface Plan {
  handler: Clause;
  /** Name of the extracted function. */
  name: string;
  /** Variables of the request pattern, in order: the extracted function's first parameters. */
  vars: string[];
  /** Their values at the self-call, as text. */
  args: string[];
  /** The callback's state variable at the call. */
  stateVar: string;
  /** The handle_call's state parameter name. */
  handlerState: string;
}

/** Which parameter holds the state, per GenServer callback. */
const STATE_PARAM: Record<string, number> = {
  'handle_call/3': 2,
  'handle_cast/2': 1,
  'handle_info/2': 1,
  'handle_continue/2': 1,
  'terminate/2': 1,
};

const rule: Transform = {
  id: 'self-call',
  title: 'GenServer calls its own process',
  severity: 'high',
  fixSafety: 'review',
  options: {},
  explanation: `
A GenServer handles one message at a time. A callback that makes a synchronous call to its own
process — \`GenServer.call(self(), ...)\`, \`GenServer.call(__MODULE__, ...)\` in a process registered
as \`__MODULE__\`, or a call to the module's own public API (\`def get(k), do: GenServer.call(__MODULE__,
...)\`) — waits for an answer that only it could give. OTP notices: every \`:gen\` call
(\`GenServer.call\`, \`:gen_server.call\`, \`:gen_statem.call\`, \`Agent.get\`, also through a \`{:via, ...}\`
or \`{:global, ...}\` name, which is resolved to the pid first) exits with \`calling_self\` when the pid is
the caller's own, and the exit crashes the server.

**What is reported.** Every synchronous call reachable from a callback (\`init/1\`, \`handle_*\`,
\`terminate/2\`) in the server's own process — through local helpers and the module's own public
wrappers, several hops deep, but not inside a \`Task\` or a spawned function (that runs in another
process) — whose target is \`self()\`, \`__MODULE__\` or a name the module is started under. A call
to a pid of another instance of the same module is not a self-call (see sync-call-in-callback).
\`__MODULE__\` counts when the module is started under that name, or when no start call is in the
scanned code (the module's API calling \`__MODULE__\` says it is a singleton).

**The fix** (when it is safe): the work the \`handle_call\` clause does is extracted into a private
function of the request's variables and the state, the \`handle_call\` clause replies with it, and the
self-call becomes a direct call of that function with the callback's own state. It is done when the
call (or a one-line wrapper around it) is written in the callback, exactly one \`handle_call\` clause
answers the request, that clause does not change the state (every return is \`{:reply, value, state}\`
with the state it was given) nor use \`from\`, and the callback has its state in a variable. A clause
that changes the state is reported without a rewrite: a direct call would have to thread the new state
back into the callback, a decision the finding leaves to you.

Before:
\`\`\`elixir
def handle_call(:size, _from, state), do: {:reply, :queue.len(state.jobs), state}

def handle_cast({:push, job}, state) do
  if GenServer.call(self(), :size) > 100, do: {:noreply, state}, else: ...
end
\`\`\`
After:
\`\`\`elixir
def handle_call(:size, _from, state), do: {:reply, do_size(state), state}

defp do_size(state), do: :queue.len(state.jobs)

def handle_cast({:push, job}, state) do
  if do_size(state) > 100, do: {:noreply, state}, else: ...
end
\`\`\`
`,

  detect({ file, project }) {
    const out: Finding[] = [];
    for (const mod of file.modules) {
      if (!isProcessModule(mod)) continue;
      const keys = new Set<string>();
      for (const fn of uniqueFunctions(mod)) {
        if (!fn.isCallback) continue;
        for (const call of syncCallsOf(fn, project)) {
          const how = selfTarget(call.target, mod, project);
          if (!how) continue;
          const entry = entrySite(call);
          const key = `${mod.name}.${fn.name}/${fn.arity}:${describeHops(call)}:${(call.request?.text ?? '').replace(/\s+/g, ' ')}`;
          if (keys.has(key)) continue;
          keys.add(key);
          const data: Data = { callback: `${fn.name}/${fn.arity}`, call };
          const planned = plan(call, fn, mod, project);
          if ('reason' in planned) data.decline = planned.reason;
          else data.plan = planned;
          out.push(
            finding(rule, file.path, {
              node: entry.node,
              key,
              fixable: !data.decline,
              message: message(call, fn, mod, how) + (data.decline ? ` Not rewritten: ${data.decline}.` : ''),
              data,
            }),
          );
        }
      }
    }
    return out;
  },

  fix(f, { file }) {
    const data = f.data as Data;
    if (data.decline || !data.plan) return { skip: data.decline ?? 'no plan' };
    const p = data.plan;
    const mod = p.handler.fn.module;
    const edits: Edit[] = [];
    // 1. The callback calls the extracted function with its own state.
    const entry = entrySite(data.call);
    edits.push({ file: file.path, start: entry.node.startIndex, end: entry.node.endIndex, text: `${p.name}(${[...p.args, p.stateVar].join(', ')})` });
    // 2. handle_call replies with it.
    const h = p.handler;
    const tails = tailExpressions(h.body!, h.oneLiner);
    const callText = `${p.name}(${[...p.vars, p.handlerState].join(', ')})`;
    const stmts = bodyStatements(h);
    const prefix = stmts.slice(0, -1);
    if (prefix.length || tails.length !== 1 || tails[0] !== stmts[stmts.length - 1]) {
      // The work before the reply moves too: the clause body becomes the one reply.
      const first = stmts[0];
      const last = stmts[stmts.length - 1];
      edits.push({ file: file.path, start: first.startIndex, end: last.endIndex, text: `{:reply, ${callText}, ${p.handlerState}}` });
    } else {
      const reply = codeChildren(tails[0])[1];
      edits.push({ file: file.path, start: reply.startIndex, end: reply.endIndex, text: callText });
    }
    // The state pattern's variables are now only used by the extracted function.
    edits.push(...unusedStateVars(file, h));
    // 3. The extracted function, after the handle_call clauses.
    const handleCall = mod.functions.get('handle_call/3')!;
    const after = definitionEnd(file, handleCall.clauses[handleCall.clauses.length - 1].node);
    edits.push({ file: file.path, start: after, end: after, text: clauseText(extracted(file, p), memberIndent(file, mod), { before: false, newFunction: true }, false) });
    return { edits };
  },
};

export default rule;

/** How a target is the module's own process, or undefined. */
function selfTarget(target: Target, mod: ModuleDef, project: ProjectIndex): string | undefined {
  if (target.kind === 'self' && !target.outer) return 'self()';
  if (target.kind !== 'name') return undefined;
  const names = namesOf(mod, project);
  if (names.has(target.name)) return `${displayName(target.name)} (the name it is started under)`;
  if (target.name === mod.name && names.size === 0) return `${mod.name} (its start call is not in the scanned code, but its API calls it by that name)`;
  return undefined;
}

function message(call: SyncCall, fn: FunctionDef, mod: ModuleDef, how: string): string {
  const via = call.hops.length ? ` through ${describeHops(call)}` : '';
  // Every :gen call (GenServer, :gen_server, :gen_statem, Agent) checks for a call to self.
  const exit = 'exits with calling_self and crashes the server';
  return `${fn.name}/${fn.arity} runs in ${mod.name}'s own process and calls ${how}${via} with ${requestLabel(call.request)}: the server would have to answer itself while it is busy running this callback, so the call ${exit}.`;
}

// ---------------------------------------------------------------------------------------------
// Planning the rewrite

function plan(call: SyncCall, callback: FunctionDef, mod: ModuleDef, project: ProjectIndex): Plan | { reason: string } {
  if (call.hops.length > 2) return { reason: `the call is ${call.hops.length - 1} helper calls deep; call the handling code directly where it is needed` };
  if (!call.request) return { reason: 'the request is not known' };
  let request = call.request;
  let substitute = (n: SyntaxNode): string | undefined => n.text;
  if (call.hops.length === 2) {
    // A wrapper whose whole body is the call: map its parameters to the arguments at the call site.
    const wrapper = call.hops[1].fn;
    const site = call.hops[0].site;
    if (wrapper.module !== mod || wrapper.clauses.length !== 1) return { reason: `${wrapper.name}/${wrapper.arity} is not a one-clause wrapper of this module` };
    const wc = wrapper.clauses[0];
    const stmts = bodyStatements(wc);
    if (stmts.length !== 1 || !contains(stmts[0], call.site.node)) return { reason: `${wrapper.name}/${wrapper.arity} does more than make the call` };
    const params = wc.params.map((p) => (p.type === 'identifier' ? p.text : undefined));
    if (params.some((p) => !p) || site.args.length !== params.length) return { reason: `${wrapper.name}/${wrapper.arity} takes patterns or defaults` };
    substitute = (n) => {
      if (n.type === 'identifier') {
        const i = params.indexOf(n.text);
        return i >= 0 ? site.args[i].text : undefined;
      }
      return n.descendantsOfType('identifier').length ? undefined : n.text;
    };
  }
  const handlers = handleCallsFor(mod, request);
  if (handlers.length !== 1) return { reason: handlers.length ? 'several handle_call clauses may answer the request' : `no handle_call clause of ${mod.name} answers ${requestLabel(request)}` };
  const handler = handlers[0];
  const [pattern, from, statePattern] = handler.params;
  if (!handler.body || !statePattern) return { reason: 'the handle_call clause has no body' };
  if (from.type !== 'identifier' || (!from.text.startsWith('_') && handler.body.descendantsOfType('identifier').some((n) => n.text === from.text)))
    return { reason: 'the handle_call clause uses `from`' };
  const handlerState = nameOf(statePattern);
  if (!handlerState) return { reason: 'the handle_call clause does not name its state' };
  const tails = tailExpressions(handler.body, handler.oneLiner);
  for (const tail of tails) {
    const items = tail.type === 'tuple' ? codeChildren(tail) : [];
    if (atomValue(items[0]) !== 'reply' || items.length !== 3)
      return { reason: `the handle_call clause returns \`${tail.text.slice(0, 40)}\`, not {:reply, value, state}` };
    if (items[2].text !== handlerState)
      return { reason: `the handle_call clause changes the state (it returns \`${items[2].text.slice(0, 40)}\`); a direct call would have to pass the new state back to ${'this callback'}: extract a function returning {reply, state} and use it in both` };
  }
  if (rebinds(handler.body, handlerState)) return { reason: `the handle_call clause rebinds \`${handlerState}\`` };
  // The request pattern's variables become the extracted function's parameters.
  const vars: string[] = [];
  const args: string[] = [];
  const ok = bindVars(pattern, request, vars, args, substitute);
  if (!ok) return { reason: `cannot match \`${request.text.slice(0, 40)}\` against \`${pattern.text.slice(0, 40)}\` to pass its parts` };
  // The callback's state variable.
  const index = STATE_PARAM[`${callback.name}/${callback.arity}`];
  const entry = entrySite(call);
  const cbClause = callback.clauses.find((c) => contains(c.node, entry.node));
  const stateVar = index === undefined || !cbClause ? undefined : nameOf(cbClause.params[index]);
  if (!stateVar) return { reason: callback.name === 'init' ? 'in init/1 the state does not exist yet: compute the value from the init arguments' : `${callback.name}/${callback.arity} does not name its state` };
  const tag = atomValue(pattern.type === 'tuple' ? codeChildren(pattern)[0] : pattern) ?? atomValue(binaryOperator(pattern) === '=' ? pattern.childForFieldName('left') ?? undefined : undefined);
  const base = tag && /^[a-z_][a-zA-Z0-9_]*[?!]?$/.test(tag) ? tag.replace(/[?!]$/, '') : undefined;
  if (!base) return { reason: 'the request has no atom tag to name the extracted function after' };
  const name = [`do_${base}`, `${base}_reply`].find((n) => !mod.functions.has(`${n}/${vars.length + 1}`) && !mod.functions.has(`${n}/${vars.length}`));
  if (!name) return { reason: `do_${base} already exists` };
  return { handler, name, vars, args, stateVar, handlerState };
}

function contains(outer: SyntaxNode, inner: SyntaxNode): boolean {
  return outer.startIndex <= inner.startIndex && inner.endIndex <= outer.endIndex;
}

/** `state` or `%{...} = state` → `state`. */
function nameOf(param: SyntaxNode | undefined): string | undefined {
  if (!param) return undefined;
  if (param.type === 'identifier') return param.text.startsWith('_') ? undefined : param.text;
  if (binaryOperator(param) === '=') return nameOf(param.childForFieldName('right') ?? undefined) ?? nameOf(param.childForFieldName('left') ?? undefined);
  return undefined;
}

function rebinds(body: SyntaxNode, name: string): boolean {
  return body.descendantsOfType('binary_operator').some((op) => binaryOperator(op) === '=' && op.childForFieldName('left')?.text === name);
}

/** Walk pattern and request together; each pattern variable gets the request's part at that place. */
function bindVars(pattern: SyntaxNode, request: SyntaxNode, vars: string[], args: string[], substitute: (n: SyntaxNode) => string | undefined): boolean {
  if (binaryOperator(pattern) === '=') {
    const l = pattern.childForFieldName('left')!;
    const r = pattern.childForFieldName('right')!;
    const [v, p] = l.type === 'identifier' ? [l, r] : [r, l];
    if (v.type === 'identifier' && !v.text.startsWith('_')) {
      const text = substitute(request);
      if (text === undefined) return false;
      vars.push(v.text);
      args.push(text);
    }
    return bindVars(p, request, vars, args, substitute);
  }
  if (pattern.type === 'identifier') {
    if (pattern.text.startsWith('_') || vars.includes(pattern.text)) return true;
    const text = substitute(request);
    if (text === undefined) return false;
    vars.push(pattern.text);
    args.push(text);
    return true;
  }
  if (pattern.type === 'tuple' || pattern.type === 'list') {
    if (request.type !== pattern.type) return pattern.descendantsOfType('identifier').every((i) => i.text.startsWith('_'));
    const ps = codeChildren(pattern);
    const rs = codeChildren(request);
    if (ps.length !== rs.length) return false;
    return ps.every((p, i) => bindVars(p, rs[i], vars, args, substitute));
  }
  // Literals match as they are; anything else with variables is beyond us.
  return pattern.descendantsOfType('identifier').every((i) => i.text.startsWith('_'));
}

/** The extracted function: the handle_call's guard, work and reply value, without the reply tuple. */
function extracted(file: FileModel, p: Plan): string {
  const h = p.handler;
  const statePattern = h.params[2];
  const guard = h.guard ? ` when ${h.guard.text}` : '';
  const head = `defp ${p.name}(${[...p.vars, statePattern.text].join(', ')})${guard}`;
  const stmts = bodyStatements(h);
  const tails = tailExpressions(h.body!, h.oneLiner);
  if (stmts.length === 1 && tails.length === 1 && tails[0] === stmts[0]) {
    const value = codeChildren(tails[0])[1].text;
    const one = `${head}, do: ${value}`;
    if (!value.includes('\n') && one.length + memberIndent(file, h.fn.module).length <= 98) return one;
    return `${head} do\n  ${value.replace(/\n/g, '\n')}\nend`;
  }
  // Body text with each reply tuple replaced by its value, re-indented to the new function.
  const base = stmts[0].startIndex;
  let text = file.text.slice(base, stmts[stmts.length - 1].endIndex);
  for (const tail of [...tails].sort((a, b) => b.startIndex - a.startIndex)) {
    const value = codeChildren(tail)[1].text;
    text = text.slice(0, tail.startIndex - base) + value + text.slice(tail.endIndex - base);
  }
  const from = indentAt(file.text, base);
  const lines = text.split('\n').map((l, i) => (i === 0 ? `  ${l}` : l.startsWith(from) ? `  ${l.slice(from.length)}` : l));
  return `${head} do\n${lines.join('\n')}\nend`;
}

/** Variables of handle_call's state pattern that only the moved body used: prefix them with `_`. */
function unusedStateVars(file: FileModel, h: Clause): Edit[] {
  const statePattern = h.params[2];
  if (binaryOperator(statePattern) !== '=') return [];
  const guardIds = new Set((h.guard ? [h.guard, ...h.guard.descendantsOfType('identifier')] : []).map((n) => n.text));
  const name = nameOf(statePattern);
  return statePattern
    .descendantsOfType('identifier')
    .filter((id) => id.text !== name && !id.text.startsWith('_') && !guardIds.has(id.text) && id.parent?.type !== 'call')
    .map((id) => ({ file: file.path, start: id.startIndex, end: id.startIndex, text: '_' }));
}
