/**
 * A workspace is an immutable snapshot of the scanned sources: parsed models plus the cross-module
 * index. A change produces a new workspace that shares every unchanged file's model.
 */
import path from 'node:path';
import { collectFiles, FileProblem, readSource, type CollectOptions, type ReadOptions, type ReadSource } from './files.js';
import { buildFileModel, type FileModel } from './model/module.js';
import { buildIndex, type ProjectIndex } from './model/project.js';
import { syntaxProblems } from './parse.js';
import { parseAll, type Parsed, type ParseOptions } from './parse-pool.js';

export type FileStatus =
  | { path: string; relPath: string; status: 'ok' }
  | { path: string; relPath: string; status: 'skipped' | 'error'; reason: string };

export class Workspace {
  readonly index: ProjectIndex;
  private readonly byPath: Map<string, FileModel>;

  constructor(
    readonly files: FileModel[],
    /** What was read from disk, by path: the base for diffs and the guard against concurrent edits. */
    readonly originals: Map<string, ReadSource>,
  ) {
    this.byPath = new Map(files.map((f) => [f.path, f]));
    this.index = buildIndex(files);
  }

  file(path: string): FileModel | undefined {
    return this.byPath.get(path);
  }

  /** A new workspace with these files' models replaced; every other file's model is shared. */
  withModels(models: Map<string, FileModel>): Workspace {
    return new Workspace(this.files.map((f) => models.get(f.path) ?? f), this.originals);
  }
}

const READ_BATCH = 64;

export interface LoadResult {
  workspace: Workspace;
  statuses: FileStatus[];
}

export interface LoadOptions extends CollectOptions, ReadOptions, ParseOptions {
  /** Told after each file is parsed and modelled (or found unusable): progress and per-file timings. */
  onFile?: (status: FileStatus, ms: number, done: number, total: number) => void;
  /** Checked between files: once aborted, loading stops with the signal's reason. */
  signal?: AbortSignal;
}

/** Parse this many files between turns of the event loop, so a Ctrl-C handler gets to run. */
const YIELD_EVERY = 16;

/** Collect, read and parse; files that cannot be read or do not parse are reported and left out. */
export async function loadWorkspace(paths: string[], options: LoadOptions): Promise<LoadResult> {
  const files = collectFiles(paths, options);
  const statuses: FileStatus[] = [];
  const models: FileModel[] = [];
  const originals = new Map<string, ReadSource>();
  const reads: PromiseSettledResult<ReadSource>[] = [];
  // Bounded concurrency: thousands of simultaneous opens would exhaust file descriptors.
  for (let i = 0; i < files.length; i += READ_BATCH) {
    options.signal?.throwIfAborted();
    reads.push(...(await Promise.allSettled(files.slice(i, i + READ_BATCH).map((f) => readSource(f, options.cwd, options)))));
  }
  // Parsed on every core (options.jobs), in file order.
  const texts = reads.flatMap((r) => (r.status === 'fulfilled' ? [r.value.text] : []));
  const parsed = await parseAll(texts, options);
  let next = 0;
  for (const [i, read] of reads.entries()) {
    // A turn of the event loop now and then, so a Ctrl-C handler runs and can stop the run.
    if (options.signal && i % YIELD_EVERY === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      options.signal.throwIfAborted();
    }
    const started = performance.now();
    const before = statuses.length;
    const tree = read.status === 'fulfilled' ? parsed[next++] : undefined;
    load(read, i, tree);
    if (statuses.length > before) options.onFile?.(statuses[statuses.length - 1], performance.now() - started + (tree?.ms ?? 0), i + 1, files.length);
  }
  return { workspace: new Workspace(models, originals), statuses };

  function load(read: PromiseSettledResult<ReadSource>, i: number, parsed: Parsed | undefined): void {
    if (read.status === 'rejected') {
      const reason = read.reason instanceof FileProblem ? read.reason.message : String(read.reason);
      statuses.push({ path: files[i], relPath: path.relative(options.cwd, files[i]), status: 'error', reason });
      return;
    }
    const source = read.value;
    const tree = parsed!.tree;
    const problems = syntaxProblems(tree, 1);
    if (problems.length) {
      const p = problems[0];
      statuses.push({
        path: source.path,
        relPath: source.relPath,
        status: 'skipped',
        reason: `syntax error at line ${p.line}, column ${p.column}${p.kind === 'missing' ? ` (missing ${p.text})` : ''}; not analysed`,
      });
      return;
    }
    originals.set(source.path, source);
    models.push(buildFileModel(source, tree));
    statuses.push({ path: source.path, relPath: source.relPath, status: 'ok' });
  }
}
