import { statementBefore } from '../core/callback-rewrite.js';
import { finding } from '../core/findings.js';
import {
  bindingOf,
  clauseScope,
  fnScope,
  localCallers,
  namesOf,
  paramOf,
  resolveTarget,
  type Scope,
} from '../core/model/calls.js';
import { isProcessModule, siteName, uniqueFunctions, type CallSite, type Clause, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import { attachesIn, type TelemetryAttach } from '../core/model/telemetry.js';
import type { SyntaxNode } from '../core/parse.js';
import { callArguments, codeChildren, indentAt, lineStart } from '../core/query.js';
import { bodyStatements, clauseText, definitionEnd, displayWidth, LINE_LENGTH, memberIndent } from '../core/rewrite.js';
import type { Edit, Finding, Transform } from '../core/types.js';

/** Calls whose value differs on every start: an id built from one is new after every restart. */
const UNIQUE_CALLS = new Set([
  'self',
  'make_ref',
  'System.unique_integer',
  ':erlang.unique_integer',
  ':erlang.make_ref',
  'System.monotonic_time',
  'System.system_time',
  'System.os_time',
  ':os.timestamp',
  ':erlang.monotonic_time',
  ':erlang.system_time',
]);

interface UniqueId {
  /** The expression that builds the id (a binding's right side or the argument itself). */
  expr: SyntaxNode;
  /** The call that makes it unique (`self()`, `make_ref()`). */
  source: SyntaxNode;
  /** Variables in `expr` bound to such a call (`me` in `"router-#{inspect(me)}"` after `me = self()`). */
  names: string[];
}

interface Captured {
  name: string;
  /** How we know it holds a pid. */
  why: string;
}

interface Leak {
  attach: TelemetryAttach;
  unique?: UniqueId;
  captured: Captured[];
  /** Names the closure takes from the clause around it (all of them, pid or not). */
  freeNames: string[];
  terminateDetach: boolean;
  decline?: string;
}

const HANDLER_NAME = 'handle_telemetry_event';

const rule: Transform = {
  id: 'telemetry-handler-leak',
  title: 'Telemetry handler that outlives its process',
  severity: 'medium',
  seedRef: '10.1',
  fixSafety: 'review',
  options: {},
  explanation: `
A telemetry handler is stored in a global table owned by the \`:telemetry\` application, not by the
process that attached it. When a GenServer attaches a handler in \`init/1\` and detaches it only in
\`terminate/2\`, the handler outlives the process whenever \`terminate/2\` does not run — and it does
not run when the process is killed (\`:kill\`, a \`:brutal_kill\` child spec, a shutdown timeout) or
when it is stopped by an exit signal from its supervisor or a linked process while it does not trap
exits (\`Process.flag(:trap_exit, true)\`).

Two things make that a leak:
- **a handler id unique to each start** (\`"router-#{inspect(self())}"\`, \`make_ref()\`,
  \`System.unique_integer()\`): every restart attaches one more handler and nothing ever removes the
  old ones; each of them keeps running on every event.
- **a closure that captures the process's pid** (\`pid = self()\` or a pid argument used inside
  \`fn ... end\`): the old handler keeps sending to, or calling, a dead pid. With a stable id the new
  process's \`attach\` returns \`{:error, :already_exists}\` (often ignored) and the dead closure stays
  in charge.

Attaches in plain modules (a test helper with \`on_exit\`, an \`attach_default_logger/0\`) are not
reported: their lifetime is not a process's. Nor are processes that trap exits.

**The fix** (for a process registered under a fixed name, so one instance at a time): a stable id
made of the module and what remains once the unique part is removed (\`{__MODULE__, "router"}\`, or
\`__MODULE__\`) — the module keeps it unique, so two modules whose ids shared a prefix never detach
each other's handler — \`:telemetry.detach(id)\` right before
the attach so a restart replaces what a dead predecessor left, and the closure turned into a public
function \`handle_telemetry_event/4\` attached as \`&__MODULE__.handle_telemetry_event/4\`, with the
variables it captured passed in the config argument. The \`terminate/2\` detach is kept. A module
started several times (no fixed name) needs a stable id per instance (from its name or key): the
finding says so and nothing is rewritten.

Before:
\`\`\`elixir
def init(_) do
  id = "router-#{inspect(self())}"
  router = self()
  :telemetry.attach(id, [:app, :event], fn e, m, md, _ -> send(router, {e, m, md}) end, nil)
  {:ok, %{id: id}}
end
\`\`\`
After:
\`\`\`elixir
def init(_) do
  id = {__MODULE__, "router"}
  router = self()
  :telemetry.detach(id)
  :telemetry.attach(id, [:app, :event], &__MODULE__.handle_telemetry_event/4, %{router: router})
  {:ok, %{id: id}}
end

@doc false
def handle_telemetry_event(e, m, md, %{router: router}), do: send(router, {e, m, md})
\`\`\`
`,

  detect({ file, project }) {
    const out: Finding[] = [];
    for (const mod of file.modules) {
      if (!isProcessModule(mod)) continue;
      const attaches = attachesIn(mod);
      for (const attach of attaches) {
        const leak = analyse(attach, mod, project);
        if (!leak) continue;
        leak.decline = declineReason(leak, mod, attaches, project);
        out.push(
          finding(rule, file.path, {
            node: attach.site.node,
            key: `${mod.name}.${attach.fn.name}/${attach.fn.arity}:${attach.events?.text.replace(/\s+/g, ' ') ?? '?'}`,
            fixable: !leak.decline,
            message: message(leak) + (leak.decline ? ` Not rewritten: ${leak.decline}.` : ''),
            data: leak,
          }),
        );
      }
    }
    return out;
  },

  fix(f, { file }) {
    const leak = f.data as Leak;
    if (leak.decline) return { skip: leak.decline };
    const attach = leak.attach;
    const edits: Edit[] = [];
    const mod = attach.module;
    let idText = attach.id!.text;
    // An id written inside the attach is replaced with the rest of the call when the closure is converted.
    const rewritesCall = attach.handler.kind === 'fn';
    if (leak.unique) {
      const stable = moduleId(leak.unique);
      if (!stable) return { skip: 'cannot derive a stable id from the unique one' };
      const inCall = leak.unique.expr.startIndex >= attach.site.node.startIndex && leak.unique.expr.endIndex <= attach.site.node.endIndex;
      if (!(inCall && rewritesCall)) edits.push({ file: file.path, start: leak.unique.expr.startIndex, end: leak.unique.expr.endIndex, text: stable });
      if (leak.unique.expr.id === attach.id!.id) idText = stable;
      // The same expression written again in terminate/2 must name the same handler.
      for (const { site } of detachSites(mod))
        if (site.args[0]?.text === leak.unique.expr.text && site.args[0].id !== leak.unique.expr.id)
          edits.push({ file: file.path, start: site.args[0].startIndex, end: site.args[0].endIndex, text: stable });
    }
    // :telemetry.detach(id) right before the attach statement.
    const stmt = statementOf(attach.site.node, attach.clause);
    if (!stmt) return { skip: 'the attach is not a statement of its function body' };
    edits.push(statementBefore(file, stmt, `:telemetry.detach(${idText})`));

    if (attach.handler.kind === 'fn') {
      const converted = convertClosure(leak, file.text);
      if ('reason' in converted) return { skip: converted.reason };
      edits.push(...converted.edits(file.path));
    }
    return { edits };
  },
};

export default rule;

// ---------------------------------------------------------------------------------------------
// Detection

function analyse(attach: TelemetryAttach, mod: ModuleDef, project: ProjectIndex): Leak | undefined {
  // Only attaches tied to the process's lifetime: made while the process runs its callbacks.
  if (!(attach.fn.isCallback || attach.fn.context === 'server' || attach.fn.context === 'both')) return undefined;
  const detaches = detachSites(mod);
  const idText = attach.id?.text;
  const detachedBefore = detaches.some(({ site, fn }) => {
    if (fn.name === 'terminate') return false;
    if (site.node.startIndex >= attach.clause.node.startIndex && site.node.endIndex <= attach.site.node.startIndex) return true;
    return site.args[0]?.text === idText;
  });
  if (detachedBefore) return undefined;
  if (trapsExits(mod)) return undefined;
  const scope = clauseScope(attach.clause);
  const unique = attach.id ? uniqueId(attach.id, scope, attach.fn, project) : undefined;
  const { captured, freeNames } = attach.handler.kind === 'fn' ? capturedPids(attach, project) : { captured: [], freeNames: [] };
  if (!unique && !captured.length) return undefined;
  return { attach, unique, captured, freeNames, terminateDetach: detaches.some((d) => d.fn.name === 'terminate') };
}

function detachSites(mod: ModuleDef): Array<{ site: CallSite; fn: FunctionDef }> {
  const out: Array<{ site: CallSite; fn: FunctionDef }> = [];
  for (const fn of uniqueFunctions(mod))
    for (const clause of fn.clauses) for (const site of clause.calls) if (!site.capture && siteName(site) === ':telemetry.detach') out.push({ site, fn });
  return out;
}

function trapsExits(mod: ModuleDef): boolean {
  for (const fn of uniqueFunctions(mod))
    for (const clause of fn.clauses)
      for (const site of clause.calls) {
        const name = siteName(site);
        if ((name === 'Process.flag' || name === ':erlang.process_flag') && site.args[0]?.text === ':trap_exit' && site.args[1]?.text !== 'false') return true;
      }
  return false;
}

/** Whether the id expression depends on a per-start value; follows bindings and local callers. */
function uniqueId(expr: SyntaxNode, scope: Scope, fn: FunctionDef, project: ProjectIndex, depth = 0): UniqueId | undefined {
  if (depth > 3) return undefined;
  const source = uniqueCall(expr, scope.mod);
  if (source) return { expr, source, names: [] };
  if (expr.type !== 'identifier') {
    // `"router-#{inspect(me)}"` with `me = self()` earlier in the clause.
    for (const id of expr.descendantsOfType('identifier')) {
      if (id.parent?.type === 'call' && id.parent.childForFieldName('target')?.id === id.id) continue;
      const bound = bindingOf(id.text, scope, expr.startIndex);
      const call = bound && uniqueCall(bound, scope.mod);
      if (call) return { expr, source: call, names: [id.text] };
    }
    return undefined;
  }
  const bound = bindingOf(expr.text, scope, expr.startIndex);
  if (bound) return uniqueId(bound, scope, fn, project, depth + 1);
  const param = paramOf(expr.text, scope);
  if (param?.kind !== 'param' || param.key) return undefined;
  for (const caller of localCallers(fn, project)) {
    const arg = caller.site.args[param.index];
    const found = arg && uniqueId(arg, caller.scope, caller.fn, project, depth + 1);
    if (found) return found;
  }
  return undefined;
}

function uniqueCall(expr: SyntaxNode, mod: ModuleDef): SyntaxNode | undefined {
  for (const node of [expr, ...expr.descendantsOfType('call')]) {
    if (node.type !== 'call') continue;
    const target = node.childForFieldName('target');
    let name: string | undefined;
    if (target?.type === 'identifier') name = target.text;
    else if (target?.type === 'dot') {
      const left = target.childForFieldName('left');
      const right = target.childForFieldName('right');
      name = left && right ? `${left.type === 'alias' ? (mod.aliases.get(left.text) ?? left.text) : left.text}.${right.text}` : undefined;
    }
    if (name && UNIQUE_CALLS.has(name)) return node;
  }
  return undefined;
}

/** Variables the closure takes from around it, and which of them hold a pid (self() of the server). */
function capturedPids(attach: TelemetryAttach, project: ProjectIndex): { captured: Captured[]; freeNames: string[] } {
  const fnNode = (attach.handler as { node: SyntaxNode }).node;
  const outer = clauseScope(attach.clause, 'outer');
  const inner = fnScope(fnNode, outer, 'base');
  const freeNames = freeVariables(fnNode, outer);
  const captured: Captured[] = [];
  for (const name of freeNames) {
    const ident = fnNode.descendantsOfType('identifier').find((n) => n.text === name)!;
    const target = resolveTarget(ident, inner, fnNode.startIndex);
    if (target.kind === 'self' && target.outer) captured.push({ name, why: `${name} = self()` });
    else if (target.kind === 'param' && target.outer && !target.key) {
      const callers = localCallers(attach.fn, project);
      const selfAt = callers.filter((c) => {
        const arg = c.site.args[target.index];
        const t = arg ? resolveTarget(arg, c.scope, c.site.node.startIndex) : undefined;
        return t?.kind === 'self';
      });
      if (callers.length && selfAt.length === callers.length)
        captured.push({ name, why: `${attach.fn.name}/${attach.fn.arity} is given self() for ${name} by ${selfAt[0].fn.name}/${selfAt[0].fn.arity}` });
    }
  }
  return { captured, freeNames };
}

/** Identifiers used in the fn that are bound around it (parameters or earlier bindings of the clause). */
function freeVariables(fnNode: SyntaxNode, outer: Scope): string[] {
  const names: string[] = [];
  const boundInside = new Set<string>();
  const pinned = (id: SyntaxNode) => id.parent?.type === 'unary_operator' && id.parent.child(0)?.type === '^';
  for (const stab of fnNode.namedChildren.filter((c) => c.type === 'stab_clause')) {
    const left = stab.childForFieldName('left');
    if (left) for (const id of [left, ...left.descendantsOfType('identifier')]) if (id.type === 'identifier' && !pinned(id)) boundInside.add(id.text);
  }
  for (const op of fnNode.descendantsOfType('binary_operator')) {
    if (op.childForFieldName('operator')?.type !== '=') continue;
    const left = op.childForFieldName('left');
    if (left) for (const id of [left, ...left.descendantsOfType('identifier')]) if (id.type === 'identifier') boundInside.add(id.text);
  }
  for (const id of fnNode.descendantsOfType('identifier')) {
    const parent = id.parent;
    if (parent?.type === 'call' && parent.childForFieldName('target')?.id === id.id) continue; // a function name
    if (id.text.startsWith('_') || id.text === '__MODULE__' || boundInside.has(id.text) || names.includes(id.text)) continue;
    if (paramOf(id.text, outer) || bindingOf(id.text, outer, fnNode.startIndex)) names.push(id.text);
  }
  return names;
}

function declineReason(leak: Leak, mod: ModuleDef, attaches: TelemetryAttach[], project: ProjectIndex): string | undefined {
  const attach = leak.attach;
  if (!attach.id) return 'the attach has no id argument';
  const stable = leak.unique ? moduleId(leak.unique) : undefined;
  if (leak.unique && !stable) return `cannot derive a stable id from \`${leak.unique.expr.text}\``;
  // One id for the module is right for a process registered under a fixed name. Several instances
  // need an id per instance: fine when what remains still varies (`"meter-#{tenant}"`).
  if (leak.unique && !namesOf(mod, project).size && !perInstance(leak.unique))
    return `${mod.name} is not started under a fixed name, so several instances may run at once and each needs its own stable id (derive it from the instance's name or key), or trap exits so terminate/2 runs`;
  if (leak.unique && attaches.length > 1) {
    const ids = attaches.map((a) => (a === attach ? moduleId(leak.unique!) : a.id?.text));
    if (new Set(ids).size !== ids.length) return 'the stable id would collide with another handler of this module';
  }
  if (!statementOf(attach.site.node, attach.clause)) return 'the attach is not a statement of a do-block (a one-line function); add the detach by hand';
  if (attach.handler.kind === 'fn') {
    const converted = convertClosure(leak, attach.module.file.text);
    if ('reason' in converted) return converted.reason;
  } else if (leak.captured.length) return 'the handler is not an fn we can turn into a function';
  return undefined;
}

function message(leak: Leak): string {
  const a = leak.attach;
  const where = `${a.module.name}.${a.fn.name}/${a.fn.arity}`;
  const parts: string[] = [];
  if (leak.unique) parts.push(`its handler id \`${leak.unique.expr.text}\` is new on every start (${leak.unique.source.text})`);
  if (leak.captured.length) parts.push(`its closure captures the server's pid (${leak.captured.map((c) => c.why).join('; ')})`);
  const detach = leak.terminateDetach
    ? 'It is detached only in terminate/2, which does not run when the process is killed or stopped by an exit signal it does not trap (a supervisor shutdown, a linked crash)'
    : 'It is never detached';
  const consequence = leak.unique
    ? 'every restart adds one more handler that runs on every event, forever'
    : "after a restart the new attach fails with {:error, :already_exists} and the old closure keeps sending to the dead pid";
  return `${siteName(a.site)} in ${where} runs in ${a.module.name}'s process, and ${parts.join(' and ')}. ${detach}: ${consequence}.`;
}

// ---------------------------------------------------------------------------------------------
// Fix helpers

/** `"router-#{inspect(self())}"` → `"router"`; `{__MODULE__, make_ref()}` → `__MODULE__`; `make_ref()` → `__MODULE__`. */
function stableId(expr: SyntaxNode, names: string[] = []): string | undefined {
  const unique = (n: SyntaxNode) =>
    !!uniqueCall(n, { aliases: new Map() } as unknown as ModuleDef) ||
    [n, ...n.descendantsOfType('identifier')].some((i) => i.type === 'identifier' && names.includes(i.text));
  if (expr.type === 'string') {
    let text = '';
    for (const part of expr.namedChildren) {
      if (part.type === 'interpolation') {
        if (unique(part)) continue;
        text += part.text;
      } else if (part.type === 'quoted_content' || part.type === 'escape_sequence') text += part.text;
    }
    text = text.replace(/^[-_:/. ]+|[-_:/. ]+$/g, '');
    return text ? `"${text}"` : '__MODULE__';
  }
  if (expr.type === 'tuple') {
    const kept = codeChildren(expr).filter((c) => !unique(c));
    if (kept.length === codeChildren(expr).length) return undefined;
    if (kept.length === 0) return '__MODULE__';
    if (kept.length === 1) return kept[0].text;
    return `{${kept.map((k) => k.text).join(', ')}}`;
  }
  if (expr.type === 'call' && unique(expr)) return '__MODULE__';
  return undefined;
}

/**
 * The stable id, made unique to the module: two modules whose ids share a prefix
 * (`"http-request-#{inspect(self())}"` in both) must not detach each other's handler.
 */
function moduleId(unique: UniqueId): string | undefined {
  const stable = stableId(unique.expr, unique.names);
  if (!stable || stable.includes('__MODULE__')) return stable;
  return `{__MODULE__, ${stable}}`;
}

/** Whether the id keeps a part that varies per instance once the unique part is gone. */
function perInstance(unique: UniqueId): boolean {
  const expr = unique.expr;
  const stable = stableId(expr, unique.names);
  if (!stable || stable === '__MODULE__') return false;
  if (expr.type === 'string') return /#\{/.test(stable);
  return /[a-z_]\w*/.test(stable.replace(/:[a-z_]\w*|__MODULE__|"[^"]*"/g, ''));
}

/** The statement of the clause body that holds `node`. */
function statementOf(node: SyntaxNode, clause: Clause): SyntaxNode | undefined {
  if (clause.oneLiner) return undefined;
  const stmts = bodyStatements(clause);
  return stmts.find((s) => s.startIndex <= node.startIndex && node.endIndex <= s.endIndex);
}

type Converted = { edits: (path: string) => Edit[] } | { reason: string };

/**
 * The closure as a public function of the module, its captured variables passed through the config
 * argument: `fn e, m, md, _ -> body end` + config `%{}` → `&__MODULE__.handle_telemetry_event/4` +
 * `%{pid: pid}`, and `def handle_telemetry_event(e, m, md, %{pid: pid})`.
 */
function convertClosure(leak: Leak, text: string): Converted {
  const attach = leak.attach;
  const fnNode = (attach.handler as { node: SyntaxNode }).node;
  const mod = attach.module;
  if (mod.functions.has(`${HANDLER_NAME}/4`)) return { reason: `${mod.name} already has ${HANDLER_NAME}/4` };
  if (attach.handlerArg?.id !== fnNode.id) return { reason: 'the fn is bound to a variable before the attach' };
  if (!attach.config) return { reason: 'the attach has no config argument' };
  const stabs = fnNode.namedChildren.filter((c) => c.type === 'stab_clause');
  const names = leak.freeNames;
  if (names.some((n) => !/^[a-z_][a-zA-Z0-9_]*$/.test(n))) return { reason: 'captured variable names that are not plain identifiers' };
  // The fn's 4th parameter, when it is used, keeps the original config under :config.
  const configParams = stabs.map((s) => {
    const left = s.childForFieldName('left');
    return left ? codeChildren(left)[3] : undefined;
  });
  if (configParams.some((p) => !p)) return { reason: 'the fn does not take four parameters' };
  // With nothing captured the config is passed on as it is; otherwise it is kept under :config.
  const usesConfig = names.length > 0 && configParams.some((p) => !(p!.type === 'identifier' && p!.text.startsWith('_')));
  if (usesConfig && configParams.some((p) => p!.type !== 'identifier')) return { reason: 'the fn pattern-matches its config argument' };
  const configPairs = names.map((n) => `${n}: ${n}`);
  if (usesConfig) configPairs.unshift(`config: ${attach.config.text}`);
  const configValue = configPairs.length ? `%{${configPairs.join(', ')}}` : attach.config.text;

  // The new function: one clause per fn clause, bodies re-indented from the fn's.
  const memberIndentText = memberIndent(mod.file, mod);
  const clauses: string[] = [];
  for (let i = 0; i < stabs.length; i++) {
    const stab = stabs[i];
    const left = stab.childForFieldName('left')!;
    const params = codeChildren(left);
    const cfg = configParams[i]!;
    const pattern = names.map((n) => `${n}: ${n}`);
    if (usesConfig) pattern.unshift(`config: ${cfg.type === 'identifier' ? cfg.text : '_config'}`);
    if (!pattern.length) pattern.push(cfg.text);
    // A captured variable pinned in the fn's patterns (`%{tenant: ^tenant}`) is now bound by the
    // config pattern of the same head: the same name twice in a head must match the same value.
    const paramTexts = params.slice(0, 3).map((p) => unpin(p, names));
    const head = defHead(HANDLER_NAME, [...paramTexts, pattern], memberIndentText);
    const body = stab.childForFieldName('right');
    if (!body) return { reason: 'an fn clause without a body' };
    const arrowRow = stab.children.find((c) => c.type === '->')?.endPosition.row;
    let reindented: string;
    if (arrowRow === body.startPosition.row) reindented = `  ${body.text.trim()}`;
    else {
      const bodyIndent = indentAt(text, body.startIndex);
      const bodyText = text.slice(lineStart(text, body.startIndex), body.endIndex).trimEnd();
      reindented = bodyText
        .split('\n')
        .map((l) => (l.trim() === '' ? '' : `  ${l.startsWith(bodyIndent) ? l.slice(bodyIndent.length) : l.trimStart()}`))
        .join('\n');
    }
    // Comments between `->` and the body belong to the body.
    const arrow = stab.children.find((c) => c.type === '->');
    const between = arrow ? text.slice(arrow.endIndex, lineStart(text, body.startIndex)) : '';
    const comments = between
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('#'))
      .map((l) => `  ${l}`)
      .filter((c) => !reindented.includes(c.trim()));
    clauses.push([`${head} do`, ...comments, reindented, 'end'].join('\n'));
  }
  const placement = { before: false, newFunction: true };
  const lastClause = attach.fn.clauses[attach.fn.clauses.length - 1].node;
  const insertAt = definitionEnd(mod.file, lastClause);
  const functionText = clauseText(`@doc false\n${clauses.join('\n\n')}`, memberIndentText, placement, false);

  // The attach call with its handler and config replaced, laid out as the formatter would.
  const args = callArguments(attach.site.node);
  const stableArg = leak.unique && moduleId(leak.unique);
  const newArgs = args.map((a) => {
    if (a.id === fnNode.id) return `&__MODULE__.${HANDLER_NAME}/4`;
    if (a.id === attach.config!.id) return configValue;
    if (stableArg && a.id === leak.unique!.expr.id) return stableArg;
    return a.text;
  });
  const callText = layoutCall(text, attach.site.node, newArgs);
  return {
    edits: (path) => [
      { file: path, start: attach.site.node.startIndex, end: attach.site.node.endIndex, text: callText },
      { file: path, start: insertAt, end: insertAt, text: functionText },
    ],
  };
}

/** A parameter's text with `^name` turned into `name` for the given names. */
function unpin(param: SyntaxNode, names: string[]): string {
  const pins = param
    .descendantsOfType('unary_operator')
    .filter((u) => u.child(0)?.type === '^' && names.includes(u.childForFieldName('operand')?.text ?? ''))
    .sort((a, b) => b.startIndex - a.startIndex);
  let text = param.text;
  for (const pin of pins) text = text.slice(0, pin.startIndex - param.startIndex) + pin.childForFieldName('operand')!.text + text.slice(pin.endIndex - param.startIndex);
  return text;
}

/**
 * `def name(params)` laid out as the formatter does: on one line when `... do` fits; else with a
 * last map parameter broken open (`def f(a, %{\n      k: v\n    }) do`) when its opening fits; else
 * one parameter per line. The last parameter is given as map pairs, or as a single text.
 */
function defHead(name: string, params: Array<string | string[]>, indent: string): string {
  const last = params[params.length - 1];
  const lastText = Array.isArray(last) ? (last.length === 1 && !last[0].includes(':') ? last[0] : `%{${last.join(', ')}}`) : last;
  const texts = [...params.slice(0, -1).map((p) => (Array.isArray(p) ? `%{${p.join(', ')}}` : p)), lastText];
  const one = `def ${name}(${texts.join(', ')})`;
  if (displayWidth(indent + one + ' do') <= LINE_LENGTH) return one;
  if (Array.isArray(last) && lastText.startsWith('%{')) {
    const open = `def ${name}(${[...texts.slice(0, -1), '%{'].join(', ')}`;
    if (displayWidth(indent + open) <= LINE_LENGTH)
      return `${open}\n${last.map((p) => `      ${p}`).join(',\n')}\n    })`;
  }
  return `def ${name}(\n${texts.map((t) => `      ${t}`).join(',\n')}\n    )`;
}

/** `name(args)` on one line when it fits, else one argument per line (as `mix format` lays out calls). */
function layoutCall(text: string, call: SyntaxNode, args: string[]): string {
  const target = call.childForFieldName('target')!.text;
  const start = lineStart(text, call.startIndex);
  const prefix = text.slice(start, call.startIndex);
  const nl = text.indexOf('\n', call.endIndex);
  const suffix = text.slice(call.endIndex, nl === -1 ? text.length : nl);
  const one = `${target}(${args.join(', ')})`;
  if (!args.some((a) => a.includes('\n')) && displayWidth(prefix + one + suffix) <= LINE_LENGTH) return one;
  const indent = indentAt(text, call.startIndex);
  return `${target}(\n${args.map((a) => `${indent}  ${a}`).join(',\n')}\n${indent})`;
}

