import type { FileModel, FunctionDef, ModuleDef } from './model/module.js';
import type { SyntaxNode } from './parse.js';
import type { AnyTransform, Finding } from './types.js';

export interface FindingInput {
  node: SyntaxNode;
  message: string;
  key: string;
  fixable: boolean;
  severity?: Finding['severity'];
  data?: unknown;
}

export function finding(rule: AnyTransform, filePath: string, input: FindingInput): Finding {
  return {
    ruleId: rule.id,
    severity: input.severity ?? rule.severity,
    file: filePath,
    start: input.node.startIndex,
    end: input.node.endIndex,
    message: input.message,
    key: input.key,
    fixable: input.fixable && !!rule.fix,
    data: input.data,
  };
}

/** `MyApp.Server.handle_call/3`. */
export function fnLabel(fn: FunctionDef): string {
  return `${fn.module.name}.${fn.name}/${fn.arity}`;
}

/** `lib/x.ex:12` for messages. */
export function where(relPath: string, node: SyntaxNode): string {
  return `${relPath}:${node.startPosition.row + 1}`;
}

/**
 * Where a position sits in the code, for matching findings across line shifts (labels, baselines):
 * `Mod.fun/arity` of the enclosing clause, else the innermost enclosing module, else `-`.
 */
export function enclosingFunction(file: FileModel, offset: number): string {
  let module: ModuleDef | undefined;
  // file.modules lists nested modules too: the innermost one starts last.
  for (const mod of file.modules)
    if (mod.node.startIndex <= offset && offset < mod.node.endIndex && (!module || mod.node.startIndex >= module.node.startIndex)) module = mod;
  if (!module) return '-';
  for (const fn of module.functions.values())
    for (const clause of fn.clauses) if (clause.node.startIndex <= offset && offset < clause.node.endIndex) return fnLabel(fn);
  return module.name;
}
