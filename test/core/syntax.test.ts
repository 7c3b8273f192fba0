/**
 * core/syntax.ts copies tree-sitter's tree into arrays in one walk; every node read the model and the
 * rules make must answer as tree-sitter's own node would. Compared node by node with the native tree
 * on every fixture and example, on non-ASCII text and on broken code.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Parser from 'tree-sitter';
import Elixir from 'tree-sitter-elixir';
import { describe, expect, it } from 'vitest';
import { parseElixir } from '../../src/core/parse.js';
import type { SyntaxNode } from '../../src/core/syntax.js';

const native = new Parser();
native.setLanguage(Elixir as unknown as Parser.Language);

function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) files(p, out);
    else if (/\.exs?$/.test(e)) out.push(p);
  }
  return out;
}

const SNIPPETS = [
  'x = "é😀"\n  y = 1 # c\r\nz = ~s(ü)\n',
  'def f do\n x\n', // MISSING end
  'foo(', // ERROR
  'defmodule A do\n  def g(a, b) when a > b, do: &Mod.h/2\nend\n',
];

type AnyNode = Parser.SyntaxNode | SyntaxNode;
const FIELDS = ['target', 'left', 'right', 'operator', 'operand', 'key', 'value'];

/** Everything the model reads of a node, as one line. */
function describeNode(n: AnyNode, field: string | null): string {
  const at = (x: AnyNode | null | undefined) => x?.startIndex ?? '-';
  return JSON.stringify([
    n.type, n.startIndex, n.endIndex, n.text, n.isNamed, n.isMissing, n.isError, n.hasError, n.startPosition, n.endPosition, field,
    n.children.length, n.namedChildren.map((c) => c.startIndex), FIELDS.map((f) => at(n.childForFieldName(f))),
    at(n.previousSibling), at(n.nextSibling), at(n.previousNamedSibling), at(n.parent),
  ]);
}

function compare(text: string, where: string, types = [['call'], ['identifier', 'binary_operator'], ['source'], ['ERROR']]): number {
  const tree = native.parse(text, undefined, { bufferSize: text.length * 2 + 1024 });
  const mine = parseElixir(text);
  const theirs: string[] = [];
  const ours: string[] = [];
  const visit = (n: Parser.SyntaxNode, m: SyntaxNode, field: string | null): void => {
    theirs.push(describeNode(n, field));
    ours.push(describeNode(m, m.fieldName ?? null));
    const cursor = n.walk();
    let i = 0;
    if (cursor.gotoFirstChild())
      do visit(cursor.currentNode, m.children[i++], cursor.currentFieldName ?? null);
      while (cursor.gotoNextSibling());
  };
  visit(tree.rootNode, mine.rootNode, null);
  expect(ours, where).toEqual(theirs);
  for (const t of types)
    expect(mine.rootNode.descendantsOfType(t).map((d) => [d.type, d.startIndex]), where).toEqual(
      tree.rootNode.descendantsOfType(t).map((d) => [d.type, d.startIndex]),
    );
  return theirs.length;
}

describe('syntax arrays', () => {
  it('answer every node read as tree-sitter does, on every fixture and example', () => {
    let nodes = 0;
    for (const f of [...files('fixtures'), ...files('examples')]) nodes += compare(readFileSync(f, 'utf8'), f);
    expect(nodes).toBeGreaterThan(10_000);
  });

  it('on non-ASCII text, CRLF, MISSING and ERROR nodes and an empty file', () => {
    SNIPPETS.forEach((s, i) => compare(s, `snippet ${i}`));
    // tree-sitter finds nothing in an empty range, not even the empty root; nothing asks that of it.
    compare('', 'empty file', []);
    expect(parseElixir('def f do\n x\n').rootNode.hasError).toBe(true);
  });

  it('gives each node one object and an id no other node has', () => {
    const a = parseElixir('foo(1, 2)');
    const b = parseElixir('foo(1, 2)');
    const call = a.rootNode.namedChildren[0];
    expect(call.childForFieldName('target')!.parent).toBe(call);
    expect(a.rootNode.id).not.toBe(b.rootNode.id);
    const ids = new Set([...a.rootNode.descendantsOfType(['call', 'integer']), ...b.rootNode.descendantsOfType(['call', 'integer'])].map((n) => n.id));
    expect(ids.size).toBe(6);
  });
});
