import { finding, where } from '../core/findings.js';
import { fieldBoundInParams } from '../core/model/ets.js';
import { fieldAccess, fnProcesses, isMany, zeroArityAtom } from '../core/model/ets-process.js';
import {
  literalAtom,
  resolveModuleName,
  siteName,
  uniqueFunctions,
  type CallSite,
  type Clause,
  type FunctionDef,
  type ModuleDef,
} from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import type { SyntaxNode } from '../core/parse.js';
import { binaryOperator, callIdentifier, codeChildren, descendants, doBlock, keywordPairs, keywordText, pipedInto } from '../core/query.js';
import { addKeywordLaidOut, breakLongOneLiner, insertPipeStep, keywordPutNew, replaceNode } from '../core/rewrite.js';
import type { Severity, Transform } from '../core/types.js';

interface Options {
  maxChildren: number;
}

type Supervisor = 'DynamicSupervisor' | 'Task.Supervisor';

/** One place where a dynamic supervisor's options are given. */
interface Site {
  node: SyntaxNode;
  supervisor: Supervisor;
  how: 'child spec' | 'start_link' | 'init';
  /** The options expression; undefined when none is given (`Task.Supervisor` alone, `start_link()`). */
  opts?: SyntaxNode;
  /** For `start_link()` without arguments: the `arguments` node to fill. */
  emptyArgs?: SyntaxNode;
  /** The supervisor's registered name, when the options or the module tell it. */
  name?: string;
  /** The options arrive through a pipe (`opts |> DynamicSupervisor.start_link()`). */
  piped?: boolean;
  clause?: Clause;
}

const CRASHING_CALLS: Record<string, string> = {
  'Task.Supervisor.async': 'raises a MatchError inside Task.Supervisor.async/2 at the limit',
  'Task.Supervisor.async_nolink': 'raises a MatchError inside Task.Supervisor.async_nolink/2 at the limit',
};
const START_CHILD = new Set(['DynamicSupervisor.start_child', 'Task.Supervisor.start_child']);

const rule: Transform<Options> = {
  id: 'supervisor-max-children',
  title: 'Dynamic supervisor without max_children',
  severity: 'medium',
  seedRef: '9.1',
  fixSafety: 'review',
  options: {
    maxChildren: {
      type: 'number',
      default: 1000,
      description:
        'The limit written into the options. Size it from what each child holds (connections, memory, file handles).',
      validate: (v) => (Number.isInteger(v) && (v as number) > 0 ? undefined : 'must be a positive integer'),
    },
  },
  harm: `Children pile up without bound when the code starts one per call of a public function (a request, an event) and nothing upstream limits those calls: each is a live process holding memory and often a socket or a checkout. Reported only where the scanned code starts children under the supervisor (by name, an attribute, \`__MODULE__\`, a helper returning the name, or the state field holding its pid). Silent when no start is visible, when every start reuses an existing child (\`:already_started\`, a Registry or whereis lookup first: one per key) or runs only at start-up (from configuration). Medium when starts come from the callers of public functions, low when they run in one process or the options may already carry a limit; never high, because the load that makes it an outage is not in the code.`,
  risks: `Once the limit is reached, \`start_child\` returns \`{:error, :max_children}\` where it used to start one more child. The fix is offered only when every start site otpfix finds handles \`{:error, _}\`: check that those error paths are right for a full supervisor (shed, queue or retry later rather than report a bug), that no start site is hidden from otpfix (a name passed in a variable, code outside the scanned paths), and that the limit (the maxChildren option) fits what each child holds.`,
  explanation: `
A \`DynamicSupervisor\` or \`Task.Supervisor\` starts a child for every \`start_child\` (or every
\`Task.Supervisor.async*\`) without limit unless it is given \`:max_children\`. Under load or a retry
storm, children pile up: each is a process with its own heap, and often a socket, a database checkout
or a file. The node runs out of memory or of the resource long before anything says no.

With \`max_children: n\`, the supervisor answers \`{:error, :max_children}\` once \`n\` children run.
That is backpressure: the caller learns it is over capacity and can shed, queue or retry later.

**Where the limit goes.** In a child spec (\`{DynamicSupervisor, name: ..., max_children: n}\`),
in \`DynamicSupervisor.start_link/1\` or \`Task.Supervisor.start_link/1\` options, and for a module
that does \`use DynamicSupervisor\`, in \`DynamicSupervisor.init/1\` inside its \`init/1\`
(\`start_link/3\`'s options are only for \`:name\`). Options held in a variable get
\`Keyword.put_new(opts, :max_children, n)\`, which keeps a limit the caller already passes.

**When it is fixed.** A limit turns one more start into \`{:error, :max_children}\`, so the fix is
offered only when otpfix sees every place in the project that starts children under the supervisor
(by its name: \`DynamicSupervisor.start_child\`, \`Task.Supervisor.start_child/async/async_nolink/
async_stream\`, and helpers that return the result, followed to their callers) and each one handles
the error (a \`case\` or \`with ... else\` clause that takes \`{:error, _}\` without raising). Otherwise
the finding stays detect-only and names the sites that would break: \`{:ok, pid} = start_child(...)\`
(a MatchError), a result that is ignored (the refused work is silently lost), \`Task.Supervisor.async\`,
\`async_nolink\` and \`async_stream\` (they raise at the limit), an unnamed supervisor or one whose
children are started where otpfix cannot see. A supervisor whose only children are started once in
\`init/1\` or \`Application.start/2\` (a fixed set) is not reported. The limit is the \`maxChildren\`
option (default 1000): size it from what each child holds.

Before:
\`\`\`elixir
children = [{DynamicSupervisor, name: MyApp.WorkerSup, strategy: :one_for_one}]
\`\`\`
After:
\`\`\`elixir
children = [{DynamicSupervisor, name: MyApp.WorkerSup, strategy: :one_for_one, max_children: 1000}]
\`\`\`
`,

  detect({ file, project, options }) {
    // Cheap text test first: both names survive any alias (`alias Task.Supervisor, as: TS`).
    if (!/DynamicSupervisor|Task\.Supervisor/.test(file.text)) return [];
    return file.modules.flatMap((mod) =>
      sitesIn(mod)
        .filter((s) => !hasLimit(s) && unboundedStarts(s, project).length > 0)
        .map((site) => {
          // Every start under this supervisor, bounded or not, must cope with the limit.
          const refusal = refusalOf(site, startSites(project).filter((c) => c.supervisorName === site.name));
          return finding(rule, file.path, {
            node: site.node,
            key: `${mod.name}:${site.how}:${site.supervisor}:${site.name ?? ordinal(mod, site)}`,
            fixable: !refusal,
            severity: severityOf(site, project),
            message: message(site, project, refusal, options.maxChildren),
            data: refusal ?? site,
          });
        }),
    );
  },

  fix(f, { file, options }) {
    if (typeof f.data === 'string') return { skip: f.data };
    const site = f.data as Site;
    const limit = String(options.maxChildren);
    if (site.emptyArgs) return { edits: [replaceNode(file, site.emptyArgs, `(max_children: ${limit})`)] };
    if (!site.opts) return { edits: [replaceNode(file, site.node, `{${site.node.text}, max_children: ${limit}}`)] };
    const laidOut = addKeywordLaidOut(file, site.node, site.opts, 'max_children', limit);
    if (laidOut) return { edits: laidOut };
    const edit =
      (site.piped ? insertPipeStep(file, site.opts, `Keyword.put_new(:max_children, ${limit})`) : undefined) ??
      keywordPutNew(file, site.opts, 'max_children', limit);
    const added = edit.text.length - (edit.end - edit.start);
    const relayout = site.clause && !edit.text.includes('\n') ? breakLongOneLiner(file, site.clause, edit.start, added) : undefined;
    return { edits: relayout ? [edit, relayout] : [edit] };
  },
};

export default rule;

function hasLimit(site: Site): boolean {
  return !!site.opts && /\bmax_children\b/.test(site.opts.text);
}

function supervisorOf(node: SyntaxNode | undefined, mod: ModuleDef): Supervisor | undefined {
  if (!node || node.type !== 'alias') return undefined;
  const name = resolveModuleName(node, mod);
  return name === 'DynamicSupervisor' || name === 'Task.Supervisor' ? name : undefined;
}

/**
 * How a supervisor is reached, as a key shared by its definition and the calls starting children under
 * it: a registered name (`name: MyApp.Sup`, `@name`, `__MODULE__`, `Keyword.put_new(opts, :name, X)`,
 * `Keyword.get(opts, :name, X)`), a family of names built the same way (`:"pool_#{id}_sup"`), or the
 * state field its pid is kept in (`{:ok, sup} = DynamicSupervisor.start_link(..)` then `%{sup: sup}`).
 */
function nameIn(opts: SyntaxNode | undefined, mod: ModuleDef, clause?: Clause): string | undefined {
  if (!opts) return undefined;
  const value = keywordPairs(opts)?.find((p) => p.key === 'name')?.value;
  if (value) return nameKey(value, mod, clause);
  // `opts |> Keyword.put_new(:name, X)`, `Keyword.put(opts, :name, X)`
  for (const call of [opts, ...descendants(opts, ['call'])]) {
    const target = call.childForFieldName('target')?.text;
    if (!target || !/^Keyword\.(put|put_new)$/.test(target)) continue;
    const args = codeChildren(call.namedChildren.find((c) => c.type === 'arguments') ?? call);
    const piped = call.parent && binaryOperator(call.parent) === '|>' && call.parent.childForFieldName('right')?.id === call.id;
    const [key, v] = piped ? args : args.slice(1);
    if (key?.text === ':name' && v) return nameKey(v, mod, clause);
  }
  return undefined;
}

function nameKey(node: SyntaxNode, mod: ModuleDef, clause?: Clause, depth = 0): string | undefined {
  const atom = literalAtom(node, mod);
  if (atom !== undefined) return atom;
  if (node.type === 'quoted_atom' && node.text.includes('#{')) return `~${node.text.replace(/#\{[^}]*\}/g, '#{}')}`;
  if (node.type === 'call') {
    // Keyword.get(opts, :name, X) / opts[:name] || X: the default is the name when nobody passes one.
    const target = node.childForFieldName('target')?.text;
    const args = codeChildren(node.namedChildren.find((c) => c.type === 'arguments') ?? node);
    if (target === 'Keyword.get' && args[1]?.text === ':name' && args[2]) return nameKey(args[2], mod, clause, depth + 1);
  }
  if (binaryOperator(node) === '||') {
    const right = node.childForFieldName('right');
    if (right && /\[:name\]$/.test(node.childForFieldName('left')?.text ?? '')) return nameKey(right, mod, clause, depth + 1);
  }
  if (node.type === 'identifier' && clause?.body && depth < 3) {
    let bound: SyntaxNode | undefined;
    for (const eq of clause.body.descendantsOfType('binary_operator'))
      if (binaryOperator(eq) === '=' && eq.startIndex < node.startIndex && eq.childForFieldName('left')?.text === node.text) bound = eq.childForFieldName('right') ?? undefined;
    if (bound) return nameKey(bound, mod, clause, depth + 1);
  }
  return undefined;
}

/** `{:ok, sup} = DynamicSupervisor.start_link(..)` with `sup` stored under a state field: `field:Mod.f`. */
function stateFieldOf(call: SyntaxNode, mod: ModuleDef, clause: Clause): string | undefined {
  const parent = call.parent;
  if (!parent || binaryOperator(parent) !== '=' || parent.childForFieldName('right')?.id !== call.id) return undefined;
  const left = parent.childForFieldName('left');
  const items = left?.type === 'tuple' ? codeChildren(left) : [];
  if (items[0]?.text !== ':ok' || items[1]?.type !== 'identifier' || !clause.body) return undefined;
  const variable = items[1].text;
  for (const pair of clause.body.descendantsOfType('pair')) {
    const value = pair.childForFieldName('value');
    const key = pair.childForFieldName('key');
    if (value?.type === 'identifier' && value.text === variable && key) return `field:${mod.name}.${keywordText(key)}`;
  }
  return undefined;
}

/** The supervisor a start call addresses, as a key comparable with nameIn/stateFieldOf. */
function startTarget(project: ProjectIndex, arg: SyntaxNode | undefined, mod: ModuleDef, clause: Clause): string | undefined {
  if (!arg) return undefined;
  const key = nameKey(arg, mod, clause);
  if (key) return key;
  if (arg.type === 'call') {
    const field = fieldAccess(arg);
    if (field) return `field:${mod.name}.${field}`;
    return zeroArityAtom(project, arg, mod);
  }
  if (arg.type === 'identifier') {
    const field = fieldBoundInParams(arg.text, clause);
    if (field) return `field:${mod.name}.${field}`;
  }
  return undefined;
}

/** Every place in the module where a dynamic supervisor is configured. */
function sitesIn(mod: ModuleDef): Site[] {
  const sites: Site[] = [];
  for (const fn of uniqueFunctions(mod))
    for (const clause of fn.clauses) {
      if (!clause.body) continue;
      for (const node of descendants(clause.body, ['tuple', 'list'])) {
        const items = codeChildren(node);
        if (node.type === 'tuple') {
          const supervisor = supervisorOf(items[0], mod);
          if (supervisor && items.length === 2)
            sites.push({ node, supervisor, how: 'child spec', opts: items[1], name: nameIn(items[1], mod, clause), clause });
        } else
          for (const item of items)
            if (isBareChild(item, mod)) sites.push({ node: item, supervisor: supervisorOf(item, mod)!, how: 'child spec', clause });
      }
      for (const site of clause.calls) {
        if (site.capture) continue;
        const name = siteName(site);
        if ((name === 'DynamicSupervisor.start_link' || name === 'Task.Supervisor.start_link') && site.arity <= 1) {
          const supervisor = name.replace('.start_link', '') as Supervisor;
          const args = site.node.namedChildren.find((c) => c.type === 'arguments');
          sites.push({
            node: site.node,
            supervisor,
            how: 'start_link',
            opts: site.args[0],
            emptyArgs: site.arity === 0 && args ? args : undefined,
            name: nameIn(site.args[0], mod, clause) ?? stateFieldOf(site.node, mod, clause),
            piped: !!site.args[0] && pipedInto(site.node)?.id === site.args[0].id,
            clause,
          });
        } else if (name === 'DynamicSupervisor.init' && site.arity === 1) {
          sites.push({
            node: site.node,
            supervisor: 'DynamicSupervisor',
            how: 'init',
            opts: site.args[0],
            name: ownName(mod),
            piped: !!site.args[0] && pipedInto(site.node)?.id === site.args[0].id,
            clause,
          });
        }
      }
    }
  return sites;
}

/** A bare `Task.Supervisor` in a children list (`children = [...]`, `Supervisor.start_link([...], ...)`). */
function isBareChild(node: SyntaxNode, mod: ModuleDef): boolean {
  if (!supervisorOf(node, mod)) return false;
  const list = node.parent;
  if (list?.type !== 'list') return false;
  const holder = list.parent;
  if (holder && binaryOperator(holder) === '=') return holder.childForFieldName('left')?.text === 'children';
  const call = holder?.type === 'arguments' ? holder.parent : undefined;
  return !!call && /^Supervisor\.(start_link|init)$/.test(call.childForFieldName('target')?.text ?? '');
}

/** The registered name of a `use DynamicSupervisor` module, from its `start_link/3` call. */
function ownName(mod: ModuleDef): string | undefined {
  for (const fn of uniqueFunctions(mod))
    for (const clause of fn.clauses)
      for (const site of clause.calls)
        if (siteName(site) === 'DynamicSupervisor.start_link' && site.arity === 3) return nameIn(site.args[2], mod);
  return undefined;
}

/** Stable among fixes: counts every site of this kind in the module, limited or not. */
function ordinal(mod: ModuleDef, site: Site): number {
  return sitesIn(mod)
    .filter((s) => s.how === site.how && s.supervisor === site.supervisor)
    .findIndex((s) => s.node.startIndex === site.node.startIndex);
}

interface StartSite {
  supervisorName: string;
  where: string;
  /** Why this call site crashes once the limit is reached; undefined when it handles the error. */
  crash?: string;
  fn: FunctionDef;
  /** Why this start does not add children without bound (one per key, only at start-up); undefined when it can. */
  bounded?: string;
  /** Runs in the callers of a public function (many processes, e.g. one per request). */
  fromCallers: boolean;
  fireAndForget: boolean;
}

const STARTING_CALLS = new Set([...START_CHILD, ...Object.keys(CRASHING_CALLS), 'Task.Supervisor.async_stream', 'Task.Supervisor.async_stream_nolink']);

/**
 * Every call, project-wide, that starts a child under a named supervisor: the name
 * given literally, by an attribute, `__MODULE__` or a zero-arity helper returning it.
 */
function startSites(project: ProjectIndex): StartSite[] {
  return project.memo('supervisor-max-children:start-sites', () =>
    project
      .perFile('supervisor-max-children:start-calls', (file) => {
        const found: Array<{ supervisorName: string; where: string; fn: FunctionDef; clause: Clause; site: CallSite; name: string }> = [];
        if (!/DynamicSupervisor|Task\.Supervisor/.test(file.text)) return found;
        for (const mod of file.modules)
          for (const fn of uniqueFunctions(mod))
            for (const clause of fn.clauses)
              for (const site of clause.calls) {
                const name = siteName(site);
                if (site.capture || !STARTING_CALLS.has(name)) continue;
                const supervisorName = startTarget(project, site.args[0], mod, clause);
                if (!supervisorName) continue;
                found.push({ supervisorName, where: where(file.relPath, site.node), fn, clause, site, name });
              }
        return found;
      })
      .flat()
      .map(({ supervisorName, where, fn, clause, site, name }) => {
        const procs = fnProcesses(project, fn);
        // Follows the result to other files' callers: computed per index, not cached per file.
        const crash =
          CRASHING_CALLS[name] ??
          (name.includes('async_stream') ? 'raises inside the stream at the limit' : resultHandling(site.node, clause, project, 0));
        return {
          supervisorName,
          where,
          crash,
          fn,
          bounded: boundedStart(fn, clause, site.node),
          fromCallers: isMany(procs),
          fireAndForget: name === 'Task.Supervisor.start_child' || name === 'Task.Supervisor.async_nolink',
        };
      }),
  );
}

const STARTUP = /^(init|start|start_link|child_spec|handle_continue)$/;

/**
 * A start that cannot add children without bound: one child per key (the code looks the key up first,
 * or takes `{:error, {:already_started, pid}}` as success), or a start made only while the system
 * starts (init/1, Application.start/2), from configuration.
 */
function boundedStart(fn: FunctionDef, clause: Clause, call: SyntaxNode): string | undefined {
  const body = clause.body?.text ?? '';
  if (/\balready_started\b/.test(body)) return 'one child per key: an existing child is reused (:already_started)';
  const before = body.slice(0, Math.max(0, call.startIndex - (clause.body?.startIndex ?? 0)));
  if (/\b(Registry\.lookup|:global\.whereis_name|GenServer\.whereis|Process\.whereis)\(/.test(before))
    return 'one child per key: the code looks the key up before starting one';
  if ((fn.isCallback && STARTUP.test(fn.name)) || (fn.name === 'start' && fn.arity === 2 && fn.module.kinds.has('application')))
    return 'started only at start-up';
  return undefined;
}

/** The visible starts under this site's supervisor that can add children without bound. */
function unboundedStarts(site: Site, project: ProjectIndex): StartSite[] {
  if (!site.name) return [];
  return startSites(project).filter((c) => c.supervisorName === site.name && !c.bounded);
}

const FAILING = new Set(['raise', 'reraise', 'exit', 'throw']);

/** A pattern that takes `{:error, :max_children}`: `_`, a variable, `{:error, _}`, `{:error, :max_children}`. */
function takesError(pattern: SyntaxNode | undefined): boolean {
  if (!pattern) return false;
  if (binaryOperator(pattern) === 'when') return false;
  if (binaryOperator(pattern) === '=') return takesError(pattern.childForFieldName('left') ?? undefined) || takesError(pattern.childForFieldName('right') ?? undefined);
  if (pattern.type === 'identifier') return true;
  const items = pattern.type === 'tuple' ? codeChildren(pattern) : undefined;
  if (!items || items.length !== 2 || items[0].text !== ':error') return false;
  return items[1].type === 'identifier' || items[1].text === ':max_children';
}

/** Clauses of a `case`/`else` that take `{:error, :max_children}` without raising. */
function handlesError(clauses: SyntaxNode[]): boolean {
  return clauses.some((c) => {
    const left = c.childForFieldName('left');
    const pattern = left ? codeChildren(left)[0] : undefined;
    if (!takesError(pattern)) return false;
    const right = c.childForFieldName('right');
    return !right || ![...descendants(right, ['call'])].some((n) => FAILING.has(callIdentifier(n) ?? ''));
  });
}

function stabsOf(block: SyntaxNode | undefined): SyntaxNode[] {
  return block ? block.namedChildren.filter((c) => c.type === 'stab_clause') : [];
}

/**
 * How the result of a start call is used: undefined when `{:error, :max_children}` is handled (a
 * `case` or `with ... else` clause takes it, or every caller of the function returning it does);
 * otherwise why not.
 */
function resultHandling(call: SyntaxNode, clause: Clause, project: ProjectIndex, depth: number): string | undefined {
  let expr = call;
  while (expr.parent && binaryOperator(expr.parent) === '|>') expr = expr.parent;
  const parent = expr.parent;
  if (!parent) return 'its result goes where otpfix does not follow';
  if (binaryOperator(parent) === '=' && parent.childForFieldName('right')?.id === expr.id) {
    const left = parent.childForFieldName('left');
    if (left?.type === 'tuple' && codeChildren(left)[0]?.text === ':ok') return 'matches only {:ok, _}: a MatchError at the limit';
    return 'binds its result to a variable otpfix does not follow';
  }
  if (parent.type === 'arguments') {
    const host = parent.parent!;
    const id = callIdentifier(host);
    if (id === 'case' && codeChildren(parent)[0]?.id === expr.id)
      return handlesError(stabsOf(doBlock(host))) ? undefined : 'its `case` has no clause for {:error, _}: a CaseClauseError at the limit';
  }
  if (binaryOperator(parent) === '<-' && parent.childForFieldName('right')?.id === expr.id) {
    const withCall = parent.parent?.type === 'arguments' ? parent.parent.parent : undefined;
    if (withCall && callIdentifier(withCall) === 'with') {
      const elseBlock = doBlock(withCall)?.namedChildren.find((c) => c.type === 'else_block');
      if (elseBlock) return handlesError(stabsOf(elseBlock)) ? undefined : 'its `with` has no `else` clause for {:error, _}';
      return returnedToCallers(withCall, clause, project, depth);
    }
  }
  if (['do_block', 'body'].includes(parent.type) || clause.body?.id === expr.id) {
    if (isLast(expr, clause)) return returnedToCallers(expr, clause, project, depth);
    const siblings = codeChildren(parent).filter((c) => c.type !== 'comment' && !c.type.endsWith('_block'));
    if (siblings[siblings.length - 1]?.id === expr.id) return 'its result is the value of a branch otpfix does not follow';
    return 'ignores the result: a child refused at the limit is silently lost';
  }
  return 'its result goes where otpfix does not follow';
}

/** The node is the clause's value: its last statement, or the value of `do:`. */
function isLast(node: SyntaxNode, clause: Clause): boolean {
  if (!clause.body) return false;
  if (clause.body.id === node.id) return true;
  const stmts = codeChildren(clause.body).filter((c) => !c.type.endsWith('_block'));
  return stmts[stmts.length - 1]?.id === node.id;
}

/** The start result is the function's return value: every caller in the project must handle it. */
function returnedToCallers(node: SyntaxNode, clause: Clause, project: ProjectIndex, depth: number): string | undefined {
  const fn = clause.fn;
  if (!isLast(node, clause)) return 'its result goes where otpfix does not follow';
  if (fn.isCallback) return `its result is returned from the callback ${fn.name}/${fn.arity}`;
  const label = `${fn.module.name}.${fn.name}/${fn.arity}`;
  if (depth >= 3) return `its result is returned through ${label} and further than otpfix follows`;
  const callers = callersOf(project, fn);
  if (!callers.length)
    return `its result is returned by ${label}, and no caller of that in the scanned code shows that {:error, _} is handled`;
  for (const c of callers) {
    const why = c.capture ? 'is passed as a function reference' : resultHandling(c.node, c.clause, project, depth + 1);
    if (why) return `its result is returned by ${label}; the caller at ${c.where} ${why}`;
  }
  return undefined;
}

interface Caller {
  node: SyntaxNode;
  clause: Clause;
  where: string;
  capture: boolean;
}

/** Call sites of a function across the project (remote calls by module name, local calls in its module). */
function callersOf(project: ProjectIndex, target: FunctionDef): Caller[] {
  const all = project.memo('supervisor-max-children:calls', () => {
    const byName = new Map<string, Caller[]>();
    for (const file of project.files)
      for (const mod of file.modules)
        for (const fn of uniqueFunctions(mod))
          for (const clause of fn.clauses)
            for (const site of clause.calls) {
              if (site.dynamic) continue;
              const key = `${site.module ?? mod.name}.${site.name}/${site.arity}`;
              const list = byName.get(key) ?? [];
              list.push({ node: site.node, clause, where: where(file.relPath, site.node), capture: site.capture });
              byName.set(key, list);
            }
    return byName;
  });
  const out: Caller[] = [];
  for (let arity = target.minArity; arity <= target.arity; arity++)
    out.push(...(all.get(`${target.module.name}.${target.name}/${arity}`) ?? []).filter((c) => c.clause.fn !== target));
  return out;
}

/**
 * Why the limit cannot be added safely: otpfix must see every place that starts children under the
 * supervisor, and each must handle `{:error, :max_children}`.
 */
function refusalOf(site: Site, starts: StartSite[]): string | undefined {
  if (!site.name)
    return 'it has no name otpfix can follow (unnamed, or named from a variable), so otpfix cannot see the places that start its children and show that they handle {:error, :max_children}';
  if (!starts.length)
    return `no call in the scanned code starts children under ${site.name} by name, so otpfix cannot show that its callers handle {:error, :max_children}`;
  const bad = starts.filter((c) => c.crash);
  if (bad.length)
    return `once limited, these start sites would break on {:error, :max_children}: ${bad.slice(0, 4).map((c) => `${c.where} (${c.crash})`).join('; ')}${bad.length > 4 ? ` and ${bad.length - 4} more` : ''}`;
  return undefined;
}

/**
 * Never high: an unbounded supervisor is an outage only under a load otpfix cannot see. Medium when
 * children are started from the callers of a public function (one per request or event, nothing
 * waits for them); low when the options come from a variable that may already carry a limit or the
 * starts run in one process.
 */
function severityOf(site: Site, project: ProjectIndex): Severity {
  if (site.opts && !keywordPairs(site.opts)) return 'low';
  return unboundedStarts(site, project).some((c) => c.fromCallers) ? 'medium' : 'low';
}

function message(site: Site, project: ProjectIndex, refusal: string | undefined, limit: number): string {
  const who = site.name && !/^(~|field:)/.test(site.name) ? `${site.supervisor} ${site.name}` : `this ${site.supervisor}`;
  const where =
    site.how === 'init'
      ? 'DynamicSupervisor.init/1 sets no :max_children'
      : site.how === 'start_link'
        ? `${site.supervisor}.start_link sets no :max_children`
        : 'its child spec sets no :max_children';
  let text = `${who} can start children without bound: ${where}. Under load every child is a live process holding its own memory and resources.`;
  if (site.opts && !keywordPairs(site.opts))
    text += ` Its options come from \`${site.opts.text}\`; if they never carry :max_children, the limit is missing.`;
  const starts = unboundedStarts(site, project);
  text += ` Children are started at ${starts.slice(0, 3).map((c) => c.where).join(', ')}${starts.length > 3 ? ` and ${starts.length - 3} more places` : ''}`;
  const callers = starts.filter((c) => c.fromCallers);
  text += callers.length
    ? `, ${callers.length === starts.length ? 'all' : 'some'} in the callers of public functions (one child per call${callers.some((c) => c.fireAndForget) ? ', and nobody waits for the task' : ''}).`
    : '.';
  text += ' It is real when those calls are driven by external input (requests, messages) with no limit upstream; harmless when there is one child per tenant, session or configured item.';
  if (refusal)
    text += ` Not rewritten: ${refusal}. By hand: make every start site handle {:error, :max_children} (shed the work, queue it, or retry later; Task.Supervisor.async, async_nolink and async_stream raise at the limit, so use start_child and check its result), then set max_children sized from what each child holds.`;
  else text += ` Fix: max_children: ${limit} (the rule's maxChildren option); every start site handles {:error, _}.`;
  return text;
}
