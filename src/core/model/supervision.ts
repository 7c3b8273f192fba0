/**
 * Supervision facts: the Task.Supervisors the project starts (and their names), and the children
 * list of each `use Application` module, where a fix can add a child.
 */
import type { SyntaxNode } from '../parse.js';
import { binaryOperator, callArguments, codeChildren, descendants, keywordPairs } from '../query.js';
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
