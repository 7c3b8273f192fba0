import { createRequire } from 'node:module';
import type Parser from 'tree-sitter';
import { readSyntax, SyntaxNode, Tree, type SyntaxData } from './syntax.js';

export { SyntaxNode, Tree };

// One parser per thread: tree-sitter parsers are cheap to reuse and not thread-safe.
let parser: Parser | undefined;

/** Parse, copy the tree into arrays (core/syntax.ts) in one walk, and drop the native tree. */
export function parseElixir(text: string): Tree {
  return new Tree(parseSyntax(text), text);
}

/** The tree of `text` as plain arrays (what worker threads send back). */
export function parseSyntax(text: string): SyntaxData {
  if (!parser) {
    // Loaded on first parse: commands that never parse (rules, explain) never load the native parser.
    const require = createRequire(import.meta.url);
    const TreeSitter = require('tree-sitter') as typeof Parser;
    parser = new TreeSitter();
    parser.setLanguage(require('tree-sitter-elixir') as Parser.Language);
  }
  // bufferSize above the text length avoids node-tree-sitter's chunked-read limit on large files.
  return readSyntax(parser.parse(text, undefined, { bufferSize: text.length * 2 + 1024 }));
}

export interface SyntaxProblem {
  line: number;
  column: number;
  kind: 'error' | 'missing';
  text: string;
}

/** The syntax errors of a tree, first first; an empty list means the file parsed cleanly. */
export function syntaxProblems(tree: Tree, limit = 5): SyntaxProblem[] {
  const problems: SyntaxProblem[] = [];
  const visit = (node: SyntaxNode): void => {
    if (problems.length >= limit) return;
    if (node.isError && node.hasError && node.children.some((c) => c.isError || c.isMissing || c.hasError)) {
      // An ERROR node often spans the whole construct around the mistake (from a `do` many lines
      // up): the innermost error inside it is where the text stops making sense.
      for (const child of node.children) visit(child);
      return;
    }
    if (node.isError || node.isMissing) {
      problems.push({
        line: node.startPosition.row + 1,
        column: node.startPosition.column + 1,
        kind: node.isMissing ? 'missing' : 'error',
        text: node.isMissing ? node.type : node.text.slice(0, 40),
      });
      return;
    }
    if (!node.hasError) return;
    for (const child of node.children) visit(child);
  };
  visit(tree.rootNode);
  return problems;
}
