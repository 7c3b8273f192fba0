/**
 * Writes to fields of a process's state map: `%{state | f: v}`, `%S{state | f: v}`, `Map.put(state, :f, v)`,
 * `Map.update(!)(state, :f, ...)`, `put_in(state.f..., v)`, `update_in(state.f..., fun)`, and whether each
 * write grows the field (`[x | state.f]`, `Map.put(state.f, key, v)`, `:queue.in(x, state.f)`, ...),
 * shrinks it (`Enum.take`, `Map.delete`, a reset to `[]`, ...) or sets it to something else.
 */
import type { SyntaxNode } from '../parse.js';
import { binaryOperator, callIdentifier, codeChildren, descendants, keywordText } from '../query.js';
import { fieldBoundInParams } from './ets.js';
import { tailsOf } from './returns.js';
import { uniqueFunctions, type Clause, type ModuleDef } from './module.js';

/** `same`: the field written back unchanged (`f: state.f`, or through a helper that returns its input). */
export type WriteKind = 'grow' | 'shrink' | 'set' | 'same';

export interface FieldWrite {
  field: string;
  kind: WriteKind;
  /** The written value (or update function). */
  value: SyntaxNode;
  /** The whole write expression. */
  node: SyntaxNode;
  clause: Clause;
  /** For growth: `prepend`, `append`, `keyed insert`, `queue in`, `set insert`, `merge`. */
  how?: string;
  /** For a keyed or set insert: the key (or element) added, when the code shows it. */
  key?: SyntaxNode;
}

const SHRINKS =
  /\b(Enum\.(take|drop|slice|filter|reject|take_while|drop_while|split|take_every|dedup|uniq)|Map\.(delete|drop|take|filter|reject|pop|split)|List\.(delete|delete_at|pop_at|first|last)|MapSet\.(delete|difference|intersection|filter|reject)|Keyword\.(delete|drop|take)|:queue\.(out|drop|filter|split|out_r|drop_r)|tl|pop_in|:lists\.(sublist|nthtail|delete)|Stream\.take)\b/;

/** Every write to a state field in the module, classified. */
export function fieldWrites(mod: ModuleDef): FieldWrite[] {
  const out: FieldWrite[] = [];
  for (const fn of uniqueFunctions(mod))
    for (const clause of fn.clauses) {
      if (!clause.body) continue;
      for (const node of descendants(clause.body)) {
        if (node.type === 'map') {
          const content = codeChildren(node).find((c) => c.type === 'map_content');
          const update = content && codeChildren(content)[0];
          if (!update || binaryOperator(update) !== '|') continue;
          const right = update.childForFieldName('right');
          const pairs = right?.type === 'keywords' ? right.namedChildren.filter((p) => p.type === 'pair') : [];
          for (const pair of pairs) {
            const key = pair.childForFieldName('key');
            const value = pair.childForFieldName('value');
            if (key && value) out.push(classify(keywordText(key), value, node, clause, 'value'));
          }
          continue;
        }
        if (node.type !== 'call') continue;
        const target = node.childForFieldName('target')?.text;
        const args = codeChildren(node.namedChildren.find((c) => c.type === 'arguments') ?? node);
        const piped = node.parent && binaryOperator(node.parent) === '|>' && node.parent.childForFieldName('right')?.id === node.id;
        const all = piped ? [node.parent!.childForFieldName('left')!, ...args] : args;
        if ((target === 'Map.put' || target === 'Map.replace!') && all.length === 3 && all[1].type === 'atom')
          out.push(classify(all[1].text.slice(1), all[2], node, clause, 'value'));
        else if (target === 'Map.update!' && all.length === 3 && all[1].type === 'atom')
          out.push(classify(all[1].text.slice(1), all[2], node, clause, 'fun'));
        else if (target === 'Map.update' && all.length === 4 && all[1].type === 'atom')
          out.push(classify(all[1].text.slice(1), all[3], node, clause, 'fun'));
        else if ((target === 'put_in' || target === 'update_in') && all.length === 2) {
          const path = fieldPath(all[0]);
          if (!path || !path.field) continue;
          if (path.keyed) {
            // put_in(state.f[key], v): a keyed insert unless the key is a literal.
            const kind: WriteKind = path.literalKey ? 'set' : target === 'put_in' ? 'grow' : 'set';
            out.push({ field: path.field, kind, value: all[1], node, clause, how: kind === 'grow' ? 'keyed insert' : undefined, key: accessKey(all[0]) });
          } else out.push(classify(path.field, all[1], node, clause, target === 'put_in' ? 'value' : 'fun'));
        }
      }
    }
  return out;
}

/** `state.f`, `state.f.g`, `state.f[key]` → the first field, and whether a dynamic key follows. */
function fieldPath(node: SyntaxNode): { field: string; keyed: boolean; literalKey: boolean } | undefined {
  let keyed = false;
  let literalKey = false;
  let n = node;
  const fields: string[] = [];
  for (;;) {
    if (n.type === 'access_call') {
      const key = codeChildren(n)[1];
      // `state.users[id].name`: an update inside an existing entry, not an insert.
      if (fields.length) return { field: '', keyed: false, literalKey: false };
      keyed = true;
      literalKey = !!key && ['atom', 'string', 'integer'].includes(key.type);
      n = codeChildren(n)[0];
      fields.length = 0;
      continue;
    }
    if (n.type === 'call' && n.childForFieldName('target')?.type === 'dot' && !n.namedChildren.some((c) => c.type === 'arguments')) {
      const dot = n.childForFieldName('target')!;
      fields.unshift(dot.childForFieldName('right')!.text);
      n = dot.childForFieldName('left')!;
      continue;
    }
    break;
  }
  if (n.type !== 'identifier' || !fields.length) return undefined;
  return { field: fields[0], keyed: keyed && fields.length === 1, literalKey };
}

/** Does `node` denote the current value of `field` (`state.f`, `&1`, a variable bound to it)? */
function refersTo(node: SyntaxNode | undefined, field: string, clause: Clause, fnParam?: string): boolean {
  if (!node) return false;
  if (node.type === 'unary_operator' && node.text === '&1') return true;
  if (node.type === 'identifier') return node.text === fnParam || fieldBoundInParams(node.text, clause) === field;
  if (node.type === 'call' && node.childForFieldName('target')?.type === 'dot' && !node.namedChildren.some((c) => c.type === 'arguments'))
    return node.childForFieldName('target')!.childForFieldName('right')?.text === field;
  return false;
}

/** `%{f: name}` in the clause's parameters binds `name` to field `f`. */

/** The variable is bound by a pattern (a `case` clause, a tuple match) in the clause before `at`. */
function reboundBefore(variable: string, clause: Clause, at: SyntaxNode): boolean {
  for (const node of descendants(clause.body!)) {
    if (node.startIndex >= at.startIndex) break;
    const pattern = node.type === 'stab_clause' ? node.childForFieldName('left') : binaryOperator(node) === '=' || binaryOperator(node) === '<-' ? node.childForFieldName('left') : undefined;
    if (pattern && [...descendants(pattern)].some((n) => n.type === 'identifier' && n.text === variable)) return true;
  }
  return false;
}

/** The statement-level value a variable was last bound to before `at`, in the clause. */
function bindingOf(variable: string, clause: Clause, at: SyntaxNode): SyntaxNode | undefined {
  let found: SyntaxNode | undefined;
  for (const node of descendants(clause.body!)) {
    if (node.startIndex >= at.startIndex) break;
    if (binaryOperator(node) === '=' && node.childForFieldName('left')?.type === 'identifier' && node.childForFieldName('left')!.text === variable)
      found = node.childForFieldName('right') ?? undefined;
  }
  return found;
}

function classify(field: string, value: SyntaxNode, node: SyntaxNode, clause: Clause, form: 'value' | 'fun'): FieldWrite {
  const write = (kind: WriteKind, how?: string): FieldWrite => ({ field, kind, value, node, clause, how });
  let v = value;
  if (form === 'value' && v.type === 'identifier') {
    const bound = bindingOf(v.text, clause, node);
    if (bound) v = bound;
    else if (reboundBefore(v.text, clause, node)) return write('set');
  }
  if (form === 'value' && refersTo(v, field, clause)) return write('same');
  if (SHRINKS.test(v.text)) return write('shrink');
  if (form === 'value' && ['list', 'map'].includes(v.type) && codeChildren(v).length === 0) return write('shrink');
  if (/^(MapSet\.new|:queue\.new|Map\.new)\(\)$/.test(v.text)) return write('shrink');
  // Update functions: `&[x | &1]`, `fn list -> [x | list] end`, `&Map.put(&1, k, v)`.
  let fnParam: string | undefined;
  if (form === 'fun') {
    if (v.type === 'anonymous_function') {
      const clause0 = v.namedChildren.find((c) => c.type === 'stab_clause');
      const param = clause0?.childForFieldName('left');
      const params = param ? codeChildren(param) : [];
      if (params.length !== 1 || params[0].type !== 'identifier') return write('set');
      fnParam = params[0].text;
      const body = clause0!.childForFieldName('right');
      const stmts = body ? codeChildren(body) : [];
      v = stmts[stmts.length - 1] ?? v;
    } else if (v.type === 'unary_operator' && v.child(0)?.type === '&') v = v.childForFieldName('operand') ?? v;
    else return write('set');
  }
  const growth = growthOf(v, field, clause, fnParam);
  if (growth) return { ...write('grow', growth), key: insertedKey(v) };
  // A local helper given the field: look at what it returns.
  if (v.type === 'call' && callIdentifier(v) && !['if', 'case', 'cond', 'with'].includes(callIdentifier(v)!)) {
    const args = codeChildren(v.namedChildren.find((c) => c.type === 'arguments') ?? v);
    const index = args.findIndex((a) => refersTo(a, field, clause, fnParam));
    const helper = index >= 0 ? clause.fn.module.functions.get(`${callIdentifier(v)}/${args.length}`) : undefined;
    if (helper) {
      const kinds = helper.clauses.map((hc) => {
        const param = hc.params[index];
        const tails = tailsOf(hc.body ? (hc.oneLiner ? [hc.body] : codeChildren(hc.body).filter((n) => !n.type.endsWith('_block'))) : []);
        if (tails.nodes.some((t) => SHRINKS.test(t.text)) || !param || param.type !== 'identifier') return 'set';
        if (tails.nodes.every((t) => t.type === 'identifier' && t.text === param.text)) return 'same';
        return tails.nodes.some((t) => growthOf(t, field, hc, param.text)) ? 'grow' : 'set';
      });
      if (kinds.length && kinds.every((k) => k === 'grow')) {
        const inner = helper.clauses.map((hc) => {
          const param = hc.params[index];
          const tails = tailsOf(hc.body ? (hc.oneLiner ? [hc.body] : codeChildren(hc.body).filter((n) => !n.type.endsWith('_block'))) : []);
          return tails.nodes.map((t) => growthOf(t, field, hc, param.text)).find(Boolean);
        });
        return write('grow', `${inner.find(Boolean) ?? 'growth'} via ${helper.name}/${helper.arity}`);
      }
      if (kinds.length && kinds.every((k) => k === 'same')) return write('same', `via ${helper.name}/${helper.arity}`);
    }
  }
  return write('set');
}

function growthOf(v: SyntaxNode, field: string, clause: Clause, fnParam?: string): string | undefined {
  if (binaryOperator(v) === '|>') {
    // `[x | state.f] |> ...`: the last step decides; a plain growth with no trimming step grows.
    const left = v.childForFieldName('left')!;
    const right = v.childForFieldName('right')!;
    const inner = growthOf(left, field, clause, fnParam);
    if (inner && !SHRINKS.test(right.text)) return inner;
  }
  if (v.type === 'list') {
    const items = codeChildren(v);
    const last = items[items.length - 1];
    if (last && binaryOperator(last) === '|' && refersTo(last.childForFieldName('right')!, field, clause, fnParam)) return 'prepend';
  }
  if (binaryOperator(v) === '++' && refersTo(v.childForFieldName('left')!, field, clause, fnParam)) return 'append';
  if (v.type === 'call') {
    const target = v.childForFieldName('target')?.text ?? '';
    const args = codeChildren(v.namedChildren.find((c) => c.type === 'arguments') ?? v);
    const piped = v.parent && binaryOperator(v.parent) === '|>' && v.parent.childForFieldName('right')?.id === v.id;
    const all = piped ? [v.parent!.childForFieldName('left')!, ...args] : args;
    const dynamicKey = (k: SyntaxNode | undefined) => !!k && !['atom', 'string', 'integer'].includes(k.type);
    if (/^Map\.(put|put_new|update)$/.test(target) && refersTo(all[0], field, clause, fnParam) && dynamicKey(all[1])) return 'keyed insert';
    if (target === 'Map.merge' && refersTo(all[0], field, clause, fnParam)) return 'merge';
    if (target === 'MapSet.put' && refersTo(all[0], field, clause, fnParam)) return 'set insert';
    if ((target === ':queue.in' || target === ':queue.in_r') && refersTo(all[1], field, clause, fnParam)) return 'queue in';
    if (target === 'List.insert_at' && refersTo(all[0], field, clause, fnParam)) return 'insert';
  }
  return undefined;
}

/** The field is compared with a size (`length(state.f) > n`, `map_size(state.f) >= max`) somewhere. */
export function sizeChecked(mod: ModuleDef, field: string): boolean {
  const size = new RegExp(`\\b(length|map_size|Enum\\.count|MapSet\\.size|:queue\\.len)\\(\\s*[a-z_]\\w*\\.${field}\\s*\\)|\\.${field}\\s*\\|>\\s*(length|map_size|Enum\\.count)`);
  return uniqueFunctions(mod).some((fn) => fn.clauses.some((c) => !!c.body && size.test(c.body.text)));
}

/** Something in the module removes from the field (`pop_in(state.f[k])`, `Map.delete(state.f, k)`, ...). */
export function removedSomewhere(mod: ModuleDef, field: string): boolean {
  const removal = new RegExp(
    `\\b(pop_in|get_and_update_in|Map\\.(delete|drop|pop|pop_lazy|reject|filter|split|take)|List\\.(delete|delete_at|pop_at)|MapSet\\.(delete|difference|filter|reject)|Enum\\.(reject|filter|take|drop|split_with)|:queue\\.(out|drop|out_r|filter)|Keyword\\.(delete|drop|pop))\\(\\s*[a-z_]\\w*\\.${field}\\b`,
  );
  return uniqueFunctions(mod).some((fn) => fn.clauses.some((c) => !!c.body && removal.test(c.body.text)));
}

/** `state.f[key]` → key. */
function accessKey(node: SyntaxNode): SyntaxNode | undefined {
  return node.type === 'access_call' ? codeChildren(node)[1] : undefined;
}

/** The key of `Map.put(m, key, v)` / `Map.update(m, key, ..)` / the element of `MapSet.put(s, x)`, through pipes. */
function insertedKey(v: SyntaxNode): SyntaxNode | undefined {
  const piped = binaryOperator(v) === '|>';
  const n = piped ? v.childForFieldName('right')! : v;
  if (n.type !== 'call') return undefined;
  const target = n.childForFieldName('target')?.text ?? '';
  if (!/^(Map\.(put|put_new|update)|MapSet\.put)$/.test(target)) return undefined;
  const args = codeChildren(n.namedChildren.find((c) => c.type === 'arguments') ?? n);
  return piped ? args[0] : args[1];
}
