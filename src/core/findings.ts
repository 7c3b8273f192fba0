import type { FunctionDef } from './model/module.js';
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
