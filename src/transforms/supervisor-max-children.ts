import { finding, where } from '../core/findings.js';
import {
  literalAtom,
  resolveModuleName,
  siteName,
  uniqueFunctions,
  type Clause,
  type ModuleDef,
} from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import type { SyntaxNode } from '../core/parse.js';
import { binaryOperator, codeChildren, descendants, keywordPairs, pipedInto } from '../core/query.js';
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
  severity: 'high',
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
  risks: `Once the limit is reached, \`start_child\` returns \`{:error, :max_children}\` (and \`Task.Supervisor.async/async_nolink\` raise) where it used to start one more child. Call sites that match only \`{:ok, pid}\` crash with a MatchError: handle the error there (shed, queue or retry later), and size the limit from what each child holds.`,
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

**Review the call sites.** Code that does \`{:ok, pid} = DynamicSupervisor.start_child(...)\` crashes
with a MatchError at the limit, and so does \`Task.Supervisor.async/async_nolink\`. The finding lists
the call sites it can see; handle \`{:error, :max_children}\` there.

Before:
\`\`\`elixir
children = [{DynamicSupervisor, name: MyApp.WorkerSup, strategy: :one_for_one}]
\`\`\`
After:
\`\`\`elixir
children = [{DynamicSupervisor, name: MyApp.WorkerSup, strategy: :one_for_one, max_children: 1000}]
\`\`\`
`,

  detect({ file, project }) {
    // Cheap text test first: both names survive any alias (`alias Task.Supervisor, as: TS`).
    if (!/DynamicSupervisor|Task\.Supervisor/.test(file.text)) return [];
    return file.modules.flatMap((mod) =>
      sitesIn(mod)
        .filter((s) => !hasLimit(s))
        .map((site) =>
          finding(rule, file.path, {
            node: site.node,
            key: `${mod.name}:${site.how}:${site.supervisor}:${site.name ?? ordinal(mod, site)}`,
            fixable: true,
            severity: severityOf(site, project),
            message: message(site, project),
            data: site,
          }),
        ),
    );
  },

  fix(f, { file, options }) {
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

function nameIn(opts: SyntaxNode | undefined, mod: ModuleDef): string | undefined {
  const value = keywordPairs(opts)?.find((p) => p.key === 'name')?.value;
  return literalAtom(value, mod);
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
            sites.push({ node, supervisor, how: 'child spec', opts: items[1], name: nameIn(items[1], mod), clause });
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
            name: nameIn(site.args[0], mod),
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
}

const STARTING_CALLS = new Set([...START_CHILD, ...Object.keys(CRASHING_CALLS), 'Task.Supervisor.async_stream', 'Task.Supervisor.async_stream_nolink']);

/** Every call, project-wide, that starts a child under a named supervisor, and whether it would crash at the limit. */
function startSites(project: ProjectIndex): StartSite[] {
  return project.perFile('supervisor-max-children:start-sites', (file) => {
    const found: StartSite[] = [];
    if (!/DynamicSupervisor|Task\.Supervisor/.test(file.text)) return found;
    for (const mod of file.modules)
      for (const fn of uniqueFunctions(mod))
        for (const clause of fn.clauses)
          for (const site of clause.calls) {
            const name = siteName(site);
            if (site.capture || !STARTING_CALLS.has(name)) continue;
            const supervisorName = literalAtom(site.args[0], mod);
            if (!supervisorName) continue;
            const crash = CRASHING_CALLS[name] ?? (START_CHILD.has(name) && matchesOkOnly(site.node) ? 'matches only {:ok, _}' : undefined);
            found.push({ supervisorName, where: where(file.relPath, site.node), crash });
          }
    return found;
  }).flat();
}

/** `{:ok, pid} = start_child(...)`: a MatchError on `{:error, :max_children}`. */
function matchesOkOnly(call: SyntaxNode): boolean {
  let expr = call;
  while (expr.parent && binaryOperator(expr.parent) === '|>') expr = expr.parent;
  const parent = expr.parent;
  if (!parent || binaryOperator(parent) !== '=' || parent.childForFieldName('right')?.id !== expr.id) return false;
  const left = parent.childForFieldName('left');
  return left?.type === 'tuple' && codeChildren(left)[0]?.text === ':ok';
}

/**
 * High when the project visibly starts children under this supervisor; medium when it cannot see who
 * starts them (a library, or starts through a variable); low when the options come from a variable
 * that may already carry a limit.
 */
function severityOf(site: Site, project: ProjectIndex): Severity {
  if (site.opts && !keywordPairs(site.opts)) return 'low';
  const starts = site.name ? startSites(project).filter((c) => c.supervisorName === site.name) : [];
  return starts.length ? 'high' : 'medium';
}

function message(site: Site, project: ProjectIndex): string {
  const who = site.name ? `${site.supervisor} ${site.name}` : `this ${site.supervisor}`;
  const where =
    site.how === 'init'
      ? 'DynamicSupervisor.init/1 sets no :max_children'
      : site.how === 'start_link'
        ? `${site.supervisor}.start_link sets no :max_children`
        : 'its child spec sets no :max_children';
  let text = `${who} can start children without bound: ${where}. Under load every child is a live process holding its own memory and resources.`;
  if (site.opts && !keywordPairs(site.opts))
    text += ` Its options come from \`${site.opts.text}\`; if they never carry :max_children, the limit is missing.`;
  const starts = site.name ? startSites(project).filter((c) => c.supervisorName === site.name) : [];
  if (starts.length) text += ` Children are started at ${starts.slice(0, 3).map((c) => c.where).join(', ')}${starts.length > 3 ? ` and ${starts.length - 3} more places` : ''}.`;
  else text += ' No call in the scanned code starts children under it by name, so how many it gets depends on code otpfix cannot see.';
  const crashes = starts.filter((c) => c.crash);
  if (crashes.length)
    text += ` Once limited, these call sites crash on {:error, :max_children}: ${crashes.map((c) => `${c.where} (${c.crash})`).join('; ')}.`;
  return text;
}
