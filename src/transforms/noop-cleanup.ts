import { finding, fnLabel } from '../core/findings.js';
import { localTarget, uniqueFunctions, type Clause, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import type { SyntaxNode } from '../core/parse.js';
import { bodyStatements } from '../core/rewrite.js';
import type { Finding, Transform } from '../core/types.js';

const CLEANUP_NAME = /(^|_)(clean|cleanup|clean_up|prune|expire|evict|purge|sweep|reap|vacuum|garbage_collect)(_|$)/;
const CONSTANTS = new Set(['integer', 'float', 'atom', 'nil', 'boolean', 'string']);

const rule: Transform = {
  id: 'noop-cleanup',
  title: 'Cleanup function that cleans nothing',
  severity: 'low',
  seedRef: '4.2',
  fixSafety: 'none',
  options: {},
  explanation: `
**Detect only.** A function named like a cleanup (\`cleanup_*\`, \`prune\`, \`expire\`, \`evict\`, \`purge\`,
\`trim\`, \`sweep\`, ...) whose every clause just returns its input unchanged, or a constant, does
nothing — usually a placeholder (\`# For now, just keep all operations\`) that stayed. Callers, and
readers, believe old data is removed; it accumulates instead, and the periodic timer that calls it
costs a message per tick for nothing.

Implement it (filter by age: \`Enum.filter(ops, &(&1.timestamp > cutoff))\`, \`Map.reject\`,
\`:ets.select_delete\`) or delete it and the timer that calls it, so that no one relies on it.

Callback implementations (\`@impl\`) and public functions not called in their module are left alone: a
behaviour may require a no-op.

Before:
\`\`\`elixir
defp cleanup_old_operations(operations, _current_time) do
  # For now, just keep all operations
  operations
end
\`\`\`
After:
\`\`\`elixir
defp cleanup_old_operations(operations, current_time) do
  cutoff = current_time - @retention_seconds
  Enum.filter(operations, &(&1.timestamp >= cutoff))
end
\`\`\`
`,

  detect({ file }) {
    const out: Finding[] = [];
    for (const mod of file.modules)
      for (const fn of uniqueFunctions(mod)) {
        if (!CLEANUP_NAME.test(fn.name) || fn.kind.startsWith('defmacro') || !fn.clauses.length) continue;
        if (fn.clauses.some((c) => hasImpl(c))) continue;
        const callers = callersOf(fn, mod);
        if (fn.kind === 'def' && !callers.length) continue;
        const noops = fn.clauses.map(noopOf);
        if (noops.some((n) => !n)) continue;
        const what = [...new Set(noops)].join(' / ');
        out.push(
          finding(rule, file.path, {
            node: fn.clauses[0].head,
            key: `${fnLabel(fn)}`,
            fixable: false,
            message:
              `${fnLabel(fn)} is named as a cleanup but ${what}: nothing is removed. ` +
              (callers.length ? `Its callers (${callers.join(', ')}) rely on it, so the data it should remove accumulates. ` : 'Nothing calls it. ') +
              `Implement it or remove it with its timer.`,
          }),
        );
      }
    return out;
  },
};

export default rule;

/** `returns its input unchanged`, `returns the constant 0`, or undefined when the clause does work. */
function noopOf(clause: Clause): string | undefined {
  const stmts = bodyStatements(clause).filter((s) => s.type !== 'comment');
  if (stmts.length !== 1) return undefined;
  const value = stmts[0];
  const params = new Set(clause.params.map(paramVariable).filter((v): v is string => !!v));
  if (value.type === 'identifier' && params.has(value.text)) return 'returns its input unchanged';
  if (CONSTANTS.has(value.type) || (['list', 'map'].includes(value.type) && value.namedChildren.length === 0))
    return `returns the constant ${value.text}`;
  return undefined;
}

function paramVariable(param: SyntaxNode): string | undefined {
  if (param.type === 'identifier') return param.text;
  if (param.type === 'binary_operator' && param.childForFieldName('operator')?.type === '=') {
    const right = param.childForFieldName('right');
    return right?.type === 'identifier' ? right.text : undefined;
  }
  return undefined;
}

function hasImpl(clause: Clause): boolean {
  for (let prev = clause.node.previousSibling; prev && (prev.type === 'comment' || prev.type === 'unary_operator'); prev = prev.previousSibling)
    if (/^@impl\b/.test(prev.text)) return true;
  return false;
}

function callersOf(fn: FunctionDef, mod: ModuleDef): string[] {
  const out = new Set<string>();
  for (const other of uniqueFunctions(mod))
    for (const clause of other.clauses)
      for (const site of clause.calls)
        if (localTarget(site, mod) === fn && other !== fn) out.add(`${other.name}/${other.arity} line ${site.node.startPosition.row + 1}`);
  return [...out];
}
