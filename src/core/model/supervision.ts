/**
 * Supervision facts: the Task.Supervisors the project starts (and their names), and the children
 * list of each `use Application` module, where a fix can add a child.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SyntaxNode } from '../parse.js';
import { binaryOperator, blockStatements, callArguments, callIdentifier, codeChildren, descendants, doBlock, keywordPairs, stabClauses } from '../query.js';
import { mixProjectRoot } from '../roles.js';
import { literalAtom, resolveModuleName, siteName, uniqueFunctions, type FileModel, type ModuleDef } from './module.js';
import type { ProjectIndex } from './project.js';

export interface TaskSupervisorDecl {
  /** The name as an Elixir term to write in code (`MyApp.TaskSupervisor`, `:tasks`). */
  code: string;
  module: ModuleDef;
}

export function taskSupervisors(project: ProjectIndex): TaskSupervisorDecl[] {
  return project.perFile('supervision:task-supervisors', (file) => {
    const found: TaskSupervisorDecl[] = [];
    if (!file.text.includes('Task.Supervisor')) return found;
    for (const mod of file.modules)
      for (const fn of uniqueFunctions(mod))
        for (const clause of fn.clauses) {
          if (!clause.body) continue;
          for (const node of descendants(clause.body, ['tuple'])) {
            let opts: SyntaxNode | undefined;
            if (node.type === 'tuple') {
              const [head, second] = codeChildren(node);
              if (head?.type === 'alias' && resolveModuleName(head, mod) === 'Task.Supervisor') opts = second;
            }
            const name = opts && keywordPairs(opts)?.find((p) => p.key === 'name')?.value;
            const code = name && nameCode(name, mod);
            if (code) found.push({ code, module: mod });
          }
          for (const site of clause.calls)
            if (siteName(site) === 'Task.Supervisor.start_link') {
              const name = keywordPairs(site.args[0])?.find((p) => p.key === 'name')?.value;
              const code = name && nameCode(name, mod);
              if (code) found.push({ code, module: mod });
            }
        }
    return found;
  }).flat();
}

/** A registered name as code that means the same from any module. */
function nameCode(node: SyntaxNode, mod: ModuleDef): string | undefined {
  if (node.type === 'atom') return node.text;
  if (node.type === 'alias' || (node.type === 'identifier' && node.text === '__MODULE__')) return literalAtom(node, mod);
  return undefined;
}

export interface ApplicationChildren {
  module: ModuleDef;
  file: FileModel;
  /** The children list literal in `start/2`. */
  list: SyntaxNode;
}

/** The children list of each application module (`children = [...]` or `Supervisor.start_link([...], _)`). */
export function applicationChildren(project: ProjectIndex): ApplicationChildren[] {
  return project.perFile('supervision:application-children', (file) => {
    const found: ApplicationChildren[] = [];
    for (const mod of file.modules) {
      if (!mod.kinds.has('application')) continue;
      const start = mod.functions.get('start/2');
      for (const clause of start?.clauses ?? []) {
        if (!clause.body) continue;
        const list = childrenList(clause.body, mod);
        if (list) {
          found.push({ module: mod, file, list });
          break;
        }
      }
    }
    return found;
  }).flat();
}

function childrenList(body: SyntaxNode, mod: ModuleDef): SyntaxNode | undefined {
  for (const node of descendants(body, ['binary_operator', 'call'])) {
    if (binaryOperator(node) === '=' && node.childForFieldName('left')?.text === 'children') {
      const right = node.childForFieldName('right');
      if (right?.type === 'list') return right;
    }
    if (node.type === 'call') {
      const target = node.childForFieldName('target');
      const left = target?.childForFieldName('left');
      if (target?.type === 'dot' && left && resolveModuleName(left, mod) === 'Supervisor' && target.childForFieldName('right')?.text === 'start_link') {
        const first = callArguments(node)[0];
        if (first?.type === 'list') return first;
      }
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The supervision tree, as far as the code shows it: the children each application (and each
// supervisor module it starts) starts, in start order, through `++`, variables, conditionals and
// helper functions, and whether each one starts on every boot.

export interface ChildEntry {
  /** The child spec expression (`Mod`, `{Mod, opts}`, `Supervisor.child_spec(...)`, a map). */
  node: SyntaxNode;
  file: FileModel;
  /** The module the spec starts, when the code names it. */
  module?: string;
  /** The list literal the spec is an element of (where a sibling can be inserted). */
  list?: SyntaxNode;
  /** Starts on every boot: not under a conditional, a filter or a multi-clause helper. */
  unconditional: boolean;
  /** The registered name of a Task.Supervisor child (as code). */
  taskSupervisor?: string;
  /** Chain of supervisor entries above this one (outermost first). */
  ancestors: ChildEntry[];
}

export interface AppTree {
  application: ModuleDef;
  /** Every child, depth first in start order (a supervisor's children follow it). */
  entries: ChildEntry[];
}

interface ResolveCtx {
  mod: ModuleDef;
  clause: SyntaxNode;
  depth: number;
  conditional: boolean;
  seen: Set<string>;
}

const MAX_DEPTH = 6;
const BRANCHING = new Set(['if', 'unless', 'case', 'cond', 'with']);

/** Child specs an expression evaluates to (a children list), with how surely each one is there. */
function childrenOf(expr: SyntaxNode | undefined, ctx: ResolveCtx, out: Omit<ChildEntry, 'ancestors'>[]): void {
  if (!expr || ctx.depth > MAX_DEPTH) return;
  if (expr.type === 'list') {
    for (const item of codeChildren(expr)) {
      if (item.type === 'keywords') continue;
      const id = callIdentifier(item);
      if ((id && BRANCHING.has(id)) || ['&&', '||', 'and', 'or'].includes(binaryOperator(item) ?? '')) {
        // `[a, if(x, do: b)]`: b is there only sometimes (and nil entries are filtered later).
        childrenOf(item, { ...ctx, conditional: true }, out);
        continue;
      }
      out.push({ node: item, file: ctx.mod.file, list: expr, unconditional: !ctx.conditional, module: specModule(item, ctx.mod), taskSupervisor: taskSupervisorName(item, ctx.mod) });
    }
    return;
  }
  const op = binaryOperator(expr);
  if (op === '++') {
    childrenOf(expr.childForFieldName('left') ?? undefined, ctx, out);
    childrenOf(expr.childForFieldName('right') ?? undefined, ctx, out);
    return;
  }
  if (op === '|>') {
    // `children |> Enum.reject(&is_nil/1)`, `|> Enum.filter(...)`: what is left is not certain.
    childrenOf(expr.childForFieldName('left') ?? undefined, { ...ctx, conditional: true }, out);
    return;
  }
  if (op === '&&' || op === '||' || op === 'and' || op === 'or') {
    childrenOf(expr.childForFieldName('right') ?? undefined, { ...ctx, conditional: true }, out);
    return;
  }
  if (expr.type === 'block') {
    const items = codeChildren(expr);
    childrenOf(items[items.length - 1], ctx, out);
    return;
  }
  if (expr.type === 'identifier') {
    const binding = lastBindingBefore(ctx.clause, expr.text, expr.startIndex);
    if (binding) childrenOf(binding, ctx, out);
    return;
  }
  if (expr.type !== 'call') return;
  const id = callIdentifier(expr);
  if (id && BRANCHING.has(id)) {
    for (const tail of branchTails(expr)) childrenOf(tail, { ...ctx, conditional: true }, out);
    return;
  }
  const target = expr.childForFieldName('target');
  const args = callArguments(expr);
  if (target?.type === 'dot') {
    const left = target.childForFieldName('left');
    const name = `${left ? resolveModuleName(left, ctx.mod) : '?'}.${target.childForFieldName('right')?.text}`;
    // Wrappers that keep every element: List.flatten, Enum.concat.
    if (name === 'List.flatten' || name === 'Enum.concat') for (const a of args) childrenOf(a, ctx, out);
    else if (['Enum.reject', 'Enum.filter', 'Enum.uniq', 'Enum.uniq_by'].includes(name)) childrenOf(args[0], { ...ctx, conditional: true }, out);
    return;
  }
  if (id && !args.some((a) => a.type === 'keywords' && a.text.startsWith('do:'))) {
    // A local helper that returns (part of) the list.
    const fn = ctx.mod.functions.get(`${id}/${args.length}`);
    if (!fn || ctx.seen.has(`${fn.name}/${fn.arity}`)) return;
    const seen = new Set(ctx.seen).add(`${fn.name}/${fn.arity}`);
    const several = fn.clauses.length > 1;
    for (const clause of fn.clauses) {
      if (!clause.body) continue;
      const stmts = clause.oneLiner ? [clause.body] : blockStatements(clause.body);
      childrenOf(stmts[stmts.length - 1], { ...ctx, clause: clause.body, depth: ctx.depth + 1, conditional: ctx.conditional || several, seen }, out);
    }
  }
}

/** The value bound to `name` by the last `name = value` before `offset` in `scope`. */
function lastBindingBefore(scope: SyntaxNode, name: string, offset: number): SyntaxNode | undefined {
  let found: SyntaxNode | undefined;
  for (const node of descendants(scope, ['binary_operator'])) {
    if (node.startIndex >= offset) break;
    if (binaryOperator(node) !== '=' || node.childForFieldName('left')?.text !== name) continue;
    if (node.endIndex > offset) continue;
    found = node.childForFieldName('right') ?? undefined;
  }
  return found;
}

/** The expressions a branching form can evaluate to. */
function branchTails(expr: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const block = doBlock(expr);
  if (!block) {
    const kw = keywordPairs(callArguments(expr).at(-1));
    for (const p of kw ?? []) if (p.key === 'do' || p.key === 'else') out.push(p.value);
    return out;
  }
  for (const section of [block, ...block.namedChildren.filter((c) => c.type.endsWith('_block'))]) {
    const stabs = stabClauses(section);
    if (stabs.length) {
      for (const stab of stabs) {
        const body = stab.childForFieldName('right');
        const items = body ? codeChildren(body) : [];
        if (items.length) out.push(items[items.length - 1]);
      }
    } else {
      const items = blockStatements(section);
      if (items.length) out.push(items[items.length - 1]);
    }
  }
  return out;
}

/** The module a child spec starts: `Mod`, `{Mod, _}`, `Supervisor.child_spec({Mod, _}, _)`, `%{start: {Mod, _, _}}`. */
export function specModule(spec: SyntaxNode, mod: ModuleDef): string | undefined {
  if (spec.type === 'alias' || spec.type === 'dot' || (spec.type === 'identifier' && spec.text === '__MODULE__')) return resolveModuleName(spec, mod);
  if (spec.type === 'tuple') {
    const first = codeChildren(spec)[0];
    return first ? resolveModuleName(first, mod) : undefined;
  }
  if (spec.type === 'call') {
    const target = spec.childForFieldName('target');
    const left = target?.type === 'dot' ? target.childForFieldName('left') : undefined;
    const right = target?.type === 'dot' ? target.childForFieldName('right')?.text : undefined;
    const receiver = left ? resolveModuleName(left, mod) : undefined;
    if (receiver === 'Supervisor' && right === 'child_spec') {
      const first = callArguments(spec)[0];
      return first ? specModule(first, mod) : undefined;
    }
    if (right === 'child_spec') return receiver;
    return undefined;
  }
  if (spec.type === 'map') {
    for (const node of descendants(spec, ['pair'])) {
      if (node.childForFieldName('key')?.text.trim() !== 'start:') continue;
      const value = node.childForFieldName('value');
      const first = value?.type === 'tuple' ? codeChildren(value)[0] : undefined;
      return first ? resolveModuleName(first, mod) : undefined;
    }
  }
  return undefined;
}

function taskSupervisorName(spec: SyntaxNode, mod: ModuleDef): string | undefined {
  if (specModule(spec, mod) !== 'Task.Supervisor') return undefined;
  const inner = spec.type === 'call' ? callArguments(spec)[0] : spec;
  if (inner?.type !== 'tuple') return undefined;
  const opts = codeChildren(inner)[1];
  const name = keywordPairs(opts)?.find((p) => p.key === 'name')?.value;
  return name ? nameCode(name, mod) : undefined;
}

/** The children list a supervisor module's `init/1` returns. */
function supervisorChildren(mod: ModuleDef, ctx: Omit<ResolveCtx, 'mod' | 'clause'>, out: Omit<ChildEntry, 'ancestors'>[]): void {
  const init = mod.functions.get('init/1');
  for (const clause of init?.clauses ?? []) {
    if (!clause.body) continue;
    for (const site of clause.calls)
      if (['Supervisor.init', 'Supervisor.start_link'].includes(siteName(site)))
        childrenOf(site.args[0], { ...ctx, mod, clause: clause.body, conditional: ctx.conditional || init!.clauses.length > 1 }, out);
  }
}

/** The mix project root directory of a file (nearest mix.exs), or null. */
function projectRoot(file: FileModel): string | null {
  return mixProjectRoot(path.dirname(file.path));
}

/** The application callback module a mix.exs names (`mod: {App, _}`); null when it names none; undefined without mix.exs. */
function mixApplicationModule(root: string | null): string | null | undefined {
  if (!root) return undefined;
  let text: string;
  try {
    text = readFileSync(path.join(root, 'mix.exs'), 'utf8');
  } catch {
    return undefined;
  }
  const m = /\bmod:\s*\{\s*([A-Z][\w.]*)/.exec(text);
  return m ? m[1] : null;
}

/**
 * The supervision tree each application of `file`'s Mix project starts: the application named in
 * its mix.exs (`mod:`), or, outside a Mix project, every `use Application` module given.
 */
export function applicationTrees(project: ProjectIndex, file: FileModel): AppTree[] {
  const root = projectRoot(file);
  return project.memo(`supervision:trees:${root ?? ''}`, () => {
    const named = mixApplicationModule(root);
    const trees: AppTree[] = [];
    for (const f of project.files) {
      if (projectRoot(f) !== root) continue;
      for (const mod of f.modules) {
        if (!mod.kinds.has('application')) continue;
        if (named !== undefined && mod.name !== named) continue;
        trees.push({ application: mod, entries: applicationEntries(project, mod) });
      }
    }
    return trees;
  });
}

function applicationEntries(project: ProjectIndex, app: ModuleDef): ChildEntry[] {
  const start = app.functions.get('start/2');
  const top: Omit<ChildEntry, 'ancestors'>[] = [];
  const base = { depth: 0, conditional: false, seen: new Set<string>() };
  for (const clause of start?.clauses ?? []) {
    if (!clause.body) continue;
    for (const site of clause.calls) {
      const name = siteName(site);
      if (name === 'Supervisor.start_link') childrenOf(site.args[0], { ...base, mod: app, clause: clause.body, conditional: start!.clauses.length > 1 }, top);
      else if (site.module && site.name === 'start_link') {
        // `MyApp.Supervisor.start_link(...)`: the tree is that supervisor's.
        const sup = project.modules.get(site.module);
        if (sup?.kinds.has('supervisor')) supervisorChildren(sup, base, top);
      }
    }
  }
  const entries: ChildEntry[] = [];
  const expand = (items: Omit<ChildEntry, 'ancestors'>[], ancestors: ChildEntry[], seen: Set<string>) => {
    for (const item of items) {
      const entry: ChildEntry = { ...item, unconditional: item.unconditional && ancestors.every((a) => a.unconditional), ancestors };
      entries.push(entry);
      const sup = item.module ? project.modules.get(item.module) : undefined;
      if (sup && sup.kinds.has('supervisor') && !seen.has(sup.name) && ancestors.length < MAX_DEPTH) {
        const nested: Omit<ChildEntry, 'ancestors'>[] = [];
        supervisorChildren(sup, base, nested);
        expand(nested, [...ancestors, entry], new Set(seen).add(sup.name));
      }
    }
  };
  expand(top, [], new Set());
  return entries;
}

export type SupervisorResolution =
  | { kind: 'existing'; code: string }
  | { kind: 'add'; code: string; application: ModuleDef; inserts: Array<{ file: FileModel; list: SyntaxNode; before: SyntaxNode }> }
  | { kind: 'none'; reason: string };

/**
 * The Task.Supervisor work of `server` can run under: one its application starts on every boot
 * before the server; else one to add right before the server's child spec (in every list it is
 * started from); else why neither is possible.
 */
export function resolveTaskSupervisor(project: ProjectIndex, server: ModuleDef): SupervisorResolution {
  const trees = applicationTrees(project, server.file);
  if (!trees.length) {
    const named = mixApplicationModule(projectRoot(server.file));
    return {
      kind: 'none',
      reason:
        named === null
          ? `the project has no application module (a library: its users start ${server.name}), so there is no supervision tree to run a Task.Supervisor in`
          : `otpfix finds no application module that starts ${server.name}`,
    };
  }
  for (const tree of trees) {
    const sites = tree.entries.filter((e) => e.module === server.name);
    if (!sites.length) continue;
    const before = (site: ChildEntry) => tree.entries.slice(0, tree.entries.indexOf(site));
    const candidates = new Set<string>();
    for (const e of before(sites[0])) if (e.taskSupervisor && e.unconditional && !startsInside(e, sites[0])) candidates.add(e.taskSupervisor);
    for (const site of sites.slice(1)) {
      const ok = new Set(before(site).filter((e) => e.taskSupervisor && e.unconditional).map((e) => e.taskSupervisor!));
      for (const c of candidates) if (!ok.has(c)) candidates.delete(c);
    }
    const reuse = [...candidates][0];
    if (reuse) return { kind: 'existing', code: reuse };
    // Add one at the level of each site (the list the server, or the supervisor above it, is in).
    const prefix = tree.application.name.replace(/\.Application$/, '');
    const code = `${prefix}.TaskSupervisor`;
    const taken = project.modules.has(code) || tree.entries.some((e) => e.taskSupervisor === code) || taskSupervisors(project).some((t) => t.code === code);
    if (taken) return { kind: 'none', reason: `${code} exists but is not started on every boot before ${server.name}; start it unconditionally before ${server.name}` };
    const inserts: Array<{ file: FileModel; list: SyntaxNode; before: SyntaxNode }> = [];
    for (const site of sites) {
      if (!site.list) return { kind: 'none', reason: `${server.name} is started from a children list otpfix cannot edit` };
      if (!inserts.some((i) => i.before.id === site.node.id)) inserts.push({ file: site.file, list: site.list, before: site.node });
    }
    return { kind: 'add', code, application: tree.application, inserts };
  }
  return {
    kind: 'none',
    reason: `${server.name} is not in ${trees.map((t) => t.application.name).join(', ')}'s supervision tree as far as otpfix can follow it (started dynamically, or by a helper otpfix cannot read)`,
  };
}

function startsInside(candidate: ChildEntry, site: ChildEntry): boolean {
  return site.ancestors.includes(candidate);
}
