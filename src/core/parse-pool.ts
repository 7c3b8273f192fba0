/**
 * Parse many files on every core: worker threads (tinypool) parse and walk each tree into syntax
 * arrays (core/syntax.ts), which come back as plain data; trees are returned in input order, so
 * everything downstream sees exactly what a single-threaded run sees. With a cache
 * (core/syntax-cache.ts), only files whose content is new are parsed.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseElixir } from './parse.js';
import type { ParsedBatch } from './parse-worker.js';
import { learnSymbolNames, Tree } from './syntax.js';
import type { SyntaxCache } from './syntax-cache.js';

export interface ParseOptions {
  /** Threads to parse on; 1 parses here. Default: the available cores. */
  jobs?: number;
  /** Below this many UTF-16 units in all, starting threads costs more than it saves. */
  minParallelSize?: number;
  /** Syntax arrays of unchanged files are taken from here, and new ones stored. */
  cache?: SyntaxCache;
}

export const DEFAULT_MIN_PARALLEL_SIZE = 512 * 1024;
/** Texts per task: large enough that messages are few, small enough to balance the threads. */
const BATCH_SIZE = 256 * 1024;

export function defaultJobs(): number {
  return availableParallelism();
}

export interface Parsed {
  tree: Tree;
  /** Milliseconds spent parsing it (in whichever thread did). */
  ms: number;
}

export async function parseAll(texts: string[], options: ParseOptions = {}): Promise<Parsed[]> {
  const { cache } = options;
  if (!cache) return parseUncached(texts, options);
  const parsed: Parsed[] = new Array(texts.length);
  const missing: number[] = [];
  texts.forEach((text, i) => {
    const started = performance.now();
    const data = cache.get(text);
    if (data) parsed[i] = { tree: new Tree(data, text), ms: performance.now() - started };
    else missing.push(i);
  });
  const fresh = await parseUncached(missing.map((i) => texts[i]), options);
  missing.forEach((i, k) => {
    parsed[i] = fresh[k];
    cache.set(texts[i], fresh[k].tree.data);
  });
  return parsed;
}

async function parseUncached(texts: string[], options: ParseOptions): Promise<Parsed[]> {
  const jobs = Math.max(1, options.jobs ?? defaultJobs());
  const total = texts.reduce((n, t) => n + t.length, 0);
  if (jobs === 1 || texts.length < 2 || total < (options.minParallelSize ?? DEFAULT_MIN_PARALLEL_SIZE))
    return texts.map((text) => {
      const started = performance.now();
      const tree = parseElixir(text);
      return { tree, ms: performance.now() - started };
    });

  const batches: number[][] = [[]];
  let size = 0;
  texts.forEach((t, i) => {
    if (size >= BATCH_SIZE) (batches.push([]), (size = 0));
    batches[batches.length - 1].push(i);
    size += t.length;
  });
  const { default: Tinypool } = await import('tinypool');
  const pool = new Tinypool({ ...workerEntry(), minThreads: jobs, maxThreads: jobs });
  try {
    const results = (await Promise.all(batches.map((b) => pool.run(b.map((i) => texts[i]))))) as ParsedBatch[];
    const parsed: Parsed[] = new Array(texts.length);
    results.forEach((r, k) => {
      learnSymbolNames(r.names);
      batches[k].forEach((i, j) => (parsed[i] = { tree: new Tree(r.trees[j], texts[i]), ms: r.ms[j] }));
    });
    return parsed;
  } finally {
    await pool.destroy();
  }
}

/** The compiled worker; from sources (tsx, vitest), the .ts one behind tsx's loader. */
function workerEntry(): { filename: string } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return { filename: path.join(path.dirname(here), 'parse-worker.js') };
  const tsxApi = path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs');
  const worker = pathToFileURL(path.join(path.dirname(here), 'parse-worker.ts')).href;
  const shim = `import { register } from ${JSON.stringify(pathToFileURL(tsxApi).href)}; register(); export default (await import(${JSON.stringify(worker)})).default;`;
  return { filename: `data:text/javascript,${encodeURIComponent(shim)}` };
}
