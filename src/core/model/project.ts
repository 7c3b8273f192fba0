/**
 * The cross-module index, merged from per-file models. Per-module facts are cached on the module
 * object, so rebuilding the index after one file changes only recomputes that file's facts.
 */
import { append } from '../collections.js';
import { collectEts, refMatchesTable, type EtsOp, type EtsTable } from './ets.js';
import type { FileModel, ModuleDef } from './module.js';

export interface ModuleEts {
  tables: EtsTable[];
  ops: EtsOp[];
}

export interface ProjectIndex {
  files: FileModel[];
  modules: Map<string, ModuleDef>;
  tables: EtsTable[];
  /** Every ETS operation in the project, with the module it is in. */
  ops: Array<EtsOp & { module: ModuleDef }>;
  /** Tables an operation's reference can denote (named tables project-wide, others in their module). */
  tablesFor(op: EtsOp, from: ModuleDef): EtsTable[];
  /** Every operation that can touch `table`. */
  opsOn(table: EtsTable): Array<EtsOp & { module: ModuleDef }>;
  /** Project-wide facts a rule derives once per index (keyed by the rule), not once per file. */
  memo<T>(key: string, compute: () => T): T;
  /**
   * Facts derived from one file at a time, for every file: cached on the file's model, so after a
   * fix only the changed files are recomputed. Prefer it to `memo` for project-wide scans.
   */
  perFile<T>(key: string, compute: (file: FileModel) => T): T[];
}

const perFileCache = new WeakMap<FileModel, Map<string, unknown>>();

function fileFacts<T>(file: FileModel, key: string, compute: (file: FileModel) => T): T {
  let facts = perFileCache.get(file);
  if (!facts) perFileCache.set(file, (facts = new Map()));
  if (!facts.has(key)) facts.set(key, compute(file));
  return facts.get(key) as T;
}

const etsCache = new WeakMap<ModuleDef, ModuleEts>();

export function moduleEts(mod: ModuleDef): ModuleEts {
  let facts = etsCache.get(mod);
  if (!facts) etsCache.set(mod, (facts = collectEts(mod)));
  return facts;
}

export function buildIndex(files: FileModel[]): ProjectIndex {
  const modules = new Map<string, ModuleDef>();
  const tables: EtsTable[] = [];
  const ops: Array<EtsOp & { module: ModuleDef }> = [];
  for (const file of files)
    for (const mod of file.modules) {
      if (!modules.has(mod.name)) modules.set(mod.name, mod);
      const facts = moduleEts(mod);
      tables.push(...facts.tables);
      for (const op of facts.ops) ops.push({ ...op, module: mod });
    }
  const named = new Map<string, EtsTable[]>();
  for (const t of tables) if (t.named && t.name) append(named, t.name, t);

  const tablesFor = (op: EtsOp, from: ModuleDef): EtsTable[] => {
    if (op.ref.kind === 'named') return named.get(op.ref.name) ?? [];
    return tables.filter((t) => t.module === from && refMatchesTable(op.ref, t, from));
  };
  const opsCache = new Map<EtsTable, Array<EtsOp & { module: ModuleDef }>>();
  const opsOn = (table: EtsTable) => {
    let found = opsCache.get(table);
    if (!found) {
      found = ops.filter((op) => op.kind !== 'create' && tablesFor(op, op.module).includes(table));
      opsCache.set(table, found);
    }
    return found;
  };
  const memos = new Map<string, unknown>();
  const memo = <T>(key: string, compute: () => T): T => {
    if (!memos.has(key)) memos.set(key, compute());
    return memos.get(key) as T;
  };
  const perFile = <T>(key: string, compute: (file: FileModel) => T): T[] =>
    memo(`perFile:${key}`, () => files.map((f) => fileFacts(f, key, compute)));
  return { files, modules, tables, ops, tablesFor, opsOn, memo, perFile };
}
