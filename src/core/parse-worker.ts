/** A worker thread of core/parse-pool.ts: parse a batch of texts into syntax arrays. */
import { parseSyntax } from './parse.js';
import { symbolNames, type SymbolNames, type SyntaxData } from './syntax.js';

export interface ParsedBatch {
  trees: SyntaxData[];
  /** Milliseconds each file took to parse and walk. */
  ms: number[];
  names: SymbolNames;
}

export default function parseBatch(texts: string[]): ParsedBatch {
  const ms: number[] = [];
  const trees = texts.map((text) => {
    const started = performance.now();
    const tree = parseSyntax(text);
    ms.push(performance.now() - started);
    return tree;
  });
  return { trees, ms, names: symbolNames() };
}
