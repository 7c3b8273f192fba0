/**
 * How old an entry of a time-stamped ETS table its readers still ask for. A reader that sums the last
 * five window buckets (`for w <- (window - 4)..window`, `:ets.lookup(t, {key, w})`) needs five windows
 * kept; a reader that counts entries written in the last minute (a match-spec guard
 * `{:>, :"$1", now - 60_000}`) needs a minute. Read from the code only: a read the rule cannot bound
 * (`:ets.tab2list/1`, a key without the time, a window count known at run time) makes the retention
 * unknown, and a cleanup must not be generated from a guess.
 */
import type { SyntaxNode } from '../parse.js';
import { binaryOperator, callArguments, callIdentifier, codeChildren } from '../query.js';
import type { ProjectOp } from './ets-records.js';
import type { Clause, ModuleDef } from './module.js';
import type { ProjectIndex } from './project.js';
import { constInt, timeSignature, timeValue, type TimeValue } from './time.js';
import { unparen, valueOrigins } from './values.js';

/** How far back a reader reads: in windows (bucket times) or in the record's time unit (write times). */
export type Reach = { back: number; op: ProjectOp; attr?: Attr } | { unknown: string; op: ProjectOp };

/** The look-back as the reader writes it, when it is a module attribute (`now - @period_ms`). */
export interface Attr {
  text: string;
  module: ModuleDef;
}

const BY_KEY = new Set(['lookup', 'lookup_element', 'member']);
const BY_SPEC = new Set(['select', 'select_count', 'select_reverse']);
const BY_PATTERN = new Set(['match', 'match_object']);

/**
 * How far back `op` reads a record whose time `time` sits at `path` (0-based, from the record; the key
 * is at `keyIndex`). `back` is 0 for a read of the current window or of "now".
 */
export function readReach(op: ProjectOp, time: TimeValue, path: number[], keyIndex: number, project: ProjectIndex): Reach {
  const name = `:ets.${op.op}/${op.site.arity}`;
  const ctx: Ctx = { time, project, op };
  if (BY_KEY.has(op.op)) {
    if (path[0] !== keyIndex) return { unknown: `${name} reads entries by a key that does not hold the time, whatever their age`, op };
    const leaf = descend(op.site.args[1], path.slice(1), op.clause, project);
    if (!leaf) return { unknown: `the key ${name} reads (\`${oneLine(op.site.args[1]?.text ?? '?')}\`) is not a tuple the rule can follow to the time`, op };
    const back = reachOf(leaf.node, leaf.clause, ctx, 10);
    return back === undefined ? { unknown: `the time in the key ${name} reads, \`${oneLine(leaf.node.text)}\`, is not the current time minus a constant`, op } : { back, op };
  }
  if (BY_SPEC.has(op.op) && op.site.arity === 2) return specReach(op, path, ctx, name);
  if (BY_PATTERN.has(op.op) && op.site.arity === 2) {
    const leaf = descend(op.site.args[1], path, op.clause, project);
    const node = leaf && unparen(leaf.node);
    if (!node || isMatchVariable(node)) return { unknown: `${name} matches entries of any age`, op };
    const back = reachOf(node, leaf.clause, ctx, 10);
    return back === undefined ? { unknown: `the time ${name} matches, \`${oneLine(node.text)}\`, is not the current time minus a constant`, op } : { back, op };
  }
  return { unknown: `${name} reads entries whatever their age`, op };
}

interface Ctx {
  time: TimeValue;
  project: ProjectIndex;
  op: ProjectOp;
}

/** A literal match spec `[{head, guards, body}, ...]`: the oldest time any of its clauses accepts. */
function specReach(op: ProjectOp, path: number[], ctx: Ctx, name: string): Reach {
  const spec = op.site.args[1] && unparen(op.site.args[1]);
  if (spec?.type !== 'list') return { unknown: `${name} takes a match spec built elsewhere (\`${oneLine(op.site.args[1]?.text ?? '?')}\`)`, op };
  let back = 0;
  let attr: Attr | undefined;
  for (const clause of codeChildren(spec)) {
    const [head, guards] = clause.type === 'tuple' ? codeChildren(clause) : [];
    if (!head || !guards) return { unknown: `${name} has a match spec clause the rule cannot read`, op };
    const leaf = descend(head, path, op.clause, ctx.project);
    const node = leaf && unparen(leaf.node);
    if (!node) return { unknown: `the head of ${name}'s match spec does not have the record's shape`, op };
    let reach: number | undefined;
    if (isMatchVariable(node)) {
      // Lower bounds on the variable in the guards: the tightest one decides.
      const nodes = lowerBounds(node.text, guards);
      const bounds = nodes.map((b) => reachOf(b, op.clause, ctx, 10));
      const known = bounds.filter((b): b is number => b !== undefined);
      if (!known.length) return { unknown: `${name} matches entries of any age (no guard bounds \`${node.text}\` from below by the current time)`, op };
      reach = Math.min(...known);
      const spec = codeChildren(unparen(op.site.args[1]!)).length === 1 && known.length === 1;
      if (spec) attr = attrOf(nodes[bounds.indexOf(reach)], op.clause, ctx);
    } else reach = reachOf(node, leaf!.clause, ctx, 10);
    if (reach === undefined) return { unknown: `the time ${name} matches, \`${oneLine(node.text)}\`, is not the current time minus a constant`, op };
    back = Math.max(back, reach);
  }
  return { back, op, attr };
}

/** `now - @period_ms` (through variables): the attribute, when the rest is the current time. */
function attrOf(node: SyntaxNode, clause: Clause, ctx: Ctx, depth = 4): Attr | undefined {
  const n = unparen(node);
  if (n.type === 'identifier' && depth > 0) {
    const origins = valueOrigins(n.text, clause, n.startIndex, ctx.project);
    return origins?.length === 1 ? attrOf(origins[0].node, origins[0].clause, ctx, depth - 1) : undefined;
  }
  if (binaryOperator(n) !== '-') return undefined;
  const right = unparen(n.childForFieldName('right')!);
  if (right.type !== 'unary_operator' || right.child(0)?.type !== '@') return undefined;
  if (reachOf(n.childForFieldName('left')!, clause, ctx, 10) !== 0) return undefined;
  return { text: right.text, module: clause.fn.module };
}

/** `:_` or `:"$1"`: matches any value. */
function isMatchVariable(node: SyntaxNode): boolean {
  return /^:(_|"\$\d+"|'\$\d+')$/.test(node.text);
}

/** Guard terms `{:>, var, x}`, `{:>=, var, x}`, `{:<, x, var}`, `{:"=<", x, var}`, `{:==, var, x}`: the x's. */
function lowerBounds(variable: string, guards: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const terms = guards.type === 'list' ? codeChildren(guards) : [];
  const visit = (term: SyntaxNode) => {
    const items = term.type === 'tuple' ? codeChildren(term) : [];
    if (items.length === 3) {
      const [op, a, b] = items;
      const o = op.text.replace(/^:"?|"$/g, '');
      if (o === 'andalso' || o === 'and') {
        visit(a);
        visit(b);
      } else if ((o === '>' || o === '>=' || o === '==' || o === '=:=') && a.text === variable) out.push(b);
      else if ((o === '<' || o === '=<' || o === '==' || o === '=:=') && b.text === variable) out.push(a);
    }
  };
  terms.forEach(visit);
  return out;
}

/** Follows `path` into a tuple expression (through variables bound to tuples). */
function descend(node: SyntaxNode | undefined, path: number[], clause: Clause, project: ProjectIndex): { node: SyntaxNode; clause: Clause } | undefined {
  let cur = node && { node: unparen(node), clause };
  for (const i of path) {
    if (!cur) return undefined;
    if (cur.node.type === 'identifier') {
      const origins = valueOrigins(cur.node.text, cur.clause, cur.node.startIndex, project);
      if (origins?.length !== 1) return undefined;
      cur = { node: unparen(origins[0].node), clause: origins[0].clause };
    }
    if (cur.node.type !== 'tuple') return undefined;
    const item = codeChildren(cur.node)[i];
    cur = item && { node: unparen(item), clause: cur.clause };
  }
  return cur;
}

/**
 * How far before now `node` is, in windows (bucket) or time units (write time): `window` → 0,
 * `window - 4` → 4, `now - @max_age_ms` → its value, a generator variable over `(w - 4)..w` → 4.
 * Undefined when it is not the current time minus a constant.
 */
function reachOf(node: SyntaxNode, clause: Clause, ctx: Ctx, depth: number): number | undefined {
  if (depth <= 0) return undefined;
  const n = unparen(node);
  if (n.type === 'unary_operator' && n.child(0)?.type === '^') {
    const operand = n.childForFieldName('operand');
    return operand ? reachOf(operand, clause, ctx, depth) : undefined;
  }
  const op = binaryOperator(n);
  if (op === '-' || op === '+') {
    const left = reachOf(n.childForFieldName('left')!, clause, ctx, depth - 1);
    const right = constMax(n.childForFieldName('right')!, clause, ctx, op === '-');
    if (left === undefined || right === undefined) return undefined;
    return Math.max(0, op === '-' ? left + right : left - right);
  }
  if (n.type === 'identifier') {
    const range = generatorRange(n);
    if (range) {
      const ends = range.map((e) => reachOf(e, clause, ctx, depth - 1));
      return ends.some((e) => e === undefined) ? undefined : Math.max(...(ends as number[]));
    }
    const origins = valueOrigins(n.text, clause, n.startIndex, ctx.project);
    if (!origins?.length) return undefined;
    const reaches = origins.map((o) => reachOf(o.node, o.clause, ctx, depth - 1));
    return reaches.some((r) => r === undefined) ? undefined : Math.max(...(reaches as number[]));
  }
  const t = timeValue(n, clause, ctx.project);
  return t && sameTime(t, ctx.time) ? 0 : undefined;
}

function sameTime(a: TimeValue, b: TimeValue): boolean {
  if (b.kind === 'bucket') return timeSignature(a) === timeSignature(b);
  return a.kind === 'at' && b.kind !== 'opaque' && a.clock === b.clock && a.unit === b.unit;
}

/**
 * The largest value a constant term can take (`@windows`, `4`, `i` over `0..4`). With `subtracted`
 * false (a `+`), the smallest one, so the reach stays an upper bound.
 */
function constMax(node: SyntaxNode, clause: Clause, ctx: Ctx, subtracted: boolean): number | undefined {
  const n = unparen(node);
  const value = constInt(n, clause.fn.module);
  if (value !== undefined) return value;
  if (n.type === 'identifier') {
    const range = generatorRange(n);
    const ends = range?.map((e) => constInt(unparen(e), clause.fn.module));
    if (!ends || ends.some((e) => e === undefined)) return undefined;
    return subtracted ? Math.max(...(ends as number[])) : Math.min(...(ends as number[]));
  }
  return undefined;
}

/** The ends of the range a variable iterates: `for w <- a..b`, `Enum.map(a..b, fn w -> ... end)`. */
function generatorRange(ident: SyntaxNode): [SyntaxNode, SyntaxNode] | undefined {
  for (let n = ident.parent; n; n = n.parent) {
    if (n.type === 'call' && callIdentifier(n) === 'for') {
      for (const arg of callArguments(n)) {
        if (binaryOperator(arg) !== '<-') continue;
        const left = arg.childForFieldName('left');
        if (left?.type === 'identifier' && left.text === ident.text) return rangeEnds(arg.childForFieldName('right'));
      }
    }
    if (n.type === 'anonymous_function') {
      const params = n.namedChildren
        .filter((c) => c.type === 'stab_clause')
        .map((s) => codeChildren(s.childForFieldName('left') ?? s)[0]);
      if (!params.some((p) => p?.type === 'identifier' && p.text === ident.text)) continue;
      const host = n.parent?.type === 'arguments' ? n.parent.parent : undefined;
      if (!host || !/^Enum\.|^Stream\./.test(host.childForFieldName('target')?.text ?? '')) return undefined;
      const piped = host.parent && binaryOperator(host.parent) === '|>' && host.parent.childForFieldName('right')?.id === host.id;
      const collection = piped ? host.parent!.childForFieldName('left') : callArguments(host)[0];
      return rangeEnds(collection ?? null);
    }
    if (n.type === 'stab_clause' || n.type === 'do_block') {
      // A variable bound by this clause's own pattern is not the generator's.
      const left = n.type === 'stab_clause' ? n.childForFieldName('left') : null;
      if (left && left.descendantsOfType('identifier').some((i) => i.text === ident.text) && n.parent?.type !== 'anonymous_function') return undefined;
    }
  }
  return undefined;
}

function rangeEnds(node: SyntaxNode | null): [SyntaxNode, SyntaxNode] | undefined {
  if (!node) return undefined;
  let n = unparen(node);
  if (binaryOperator(n) === '//') n = unparen(n.childForFieldName('left')!);
  if (binaryOperator(n) !== '..') return undefined;
  return [n.childForFieldName('left')!, n.childForFieldName('right')!];
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}
