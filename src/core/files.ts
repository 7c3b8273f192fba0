/**
 * Finding and reading Elixir sources: walk the given paths, honour .gitignore, skip build output,
 * and turn unreadable, binary or non-UTF-8 files into per-file problems instead of crashes.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import writeFileAtomic from 'write-file-atomic';
import { errorMessage, ioError, usageError } from './errors.js';

export const ELIXIR_EXTENSIONS = ['.ex', '.exs'];
const ALWAYS_SKIPPED = new Set(['_build', 'deps', 'node_modules', '.git', '.elixir_ls', 'cover']);

export interface ReadSource {
  path: string;
  relPath: string;
  text: string;
  /** Hash of the bytes read, to notice files changed by someone else before writing. */
  hash: string;
}

export class FileProblem extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export interface CollectOptions {
  cwd: string;
  /** Extra gitignore-style patterns to leave out (relative to `patternBase`). */
  exclude?: string[];
  /** When given, files found by walking a directory must match one of these gitignore-style patterns. */
  include?: string[];
  /** The directory `include`/`exclude` patterns are relative to (the config file's); default `cwd`. */
  patternBase?: string;
}

/**
 * The Elixir files under `paths`, sorted, deduplicated; a path that does not exist is a usage error.
 * `include`/`exclude` filter what directory walks find; a file named explicitly is always taken.
 */
export function collectFiles(paths: string[], options: CollectOptions): string[] {
  const found = new Set<string>();
  const base = options.patternBase ?? options.cwd;
  const extra = ignore().add(options.exclude ?? []);
  const included = options.include?.length ? ignore().add(options.include) : undefined;
  const relToBase = (file: string) => {
    const rel = path.relative(base, file).split(path.sep).join('/');
    return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? undefined : rel;
  };
  for (const given of paths.length ? paths : ['.']) {
    const abs = path.resolve(options.cwd, given);
    if (!existsSync(abs)) throw usageError(`path does not exist: ${given}`, 'Check the spelling, or run from the project root.');
    const stat = statSync(abs);
    if (stat.isFile()) {
      if (!ELIXIR_EXTENSIONS.includes(path.extname(abs)))
        throw usageError(`not an Elixir source file (.ex or .exs): ${given}`);
      found.add(abs);
      continue;
    }
    walk(
      abs,
      gitignoresAbove(abs),
      found,
      (file, isDir) => {
        const rel = relToBase(file);
        return rel !== undefined && extra.ignores(isDir ? `${rel}/` : rel);
      },
      (file) => {
        if (!included) return true;
        const rel = relToBase(file);
        return rel !== undefined && included.ignores(rel);
      },
    );
  }
  return [...found].sort();
}

interface IgnoreScope {
  base: string;
  rules: Ignore;
}

function loadGitignore(dir: string): IgnoreScope | undefined {
  const file = path.join(dir, '.gitignore');
  if (!existsSync(file)) return undefined;
  try {
    return { base: dir, rules: ignore().add(readFileSync(file, 'utf8')) };
  } catch {
    return undefined; // an unreadable .gitignore ignores nothing
  }
}

/** .gitignore files of the directories above `dir`, up to the repository root. */
function gitignoresAbove(dir: string): IgnoreScope[] {
  const scopes: IgnoreScope[] = [];
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const scope = loadGitignore(d);
    if (scope) scopes.unshift(scope);
    if (existsSync(path.join(d, '.git')) || path.dirname(d) === d) break;
  }
  return scopes;
}

function isIgnored(abs: string, isDir: boolean, scopes: IgnoreScope[]): boolean {
  return scopes.some((s) => {
    const rel = path.relative(s.base, abs);
    return rel !== '' && !rel.startsWith('..') && s.rules.ignores(isDir ? `${rel}/` : rel);
  });
}

function walk(
  dir: string,
  scopes: IgnoreScope[],
  found: Set<string>,
  excluded: (file: string, isDir: boolean) => boolean,
  included: (file: string) => boolean,
): void {
  const own = loadGitignore(dir);
  const here = own ? [...scopes, own] : scopes;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    throw ioError(`cannot read directory ${dir}: ${errorMessage(err)}`);
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const abs = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (ALWAYS_SKIPPED.has(entry.name) || isIgnored(abs, true, here) || excluded(abs, true)) continue;
      walk(abs, here, found, excluded, included);
    } else if (entry.isFile() && ELIXIR_EXTENSIONS.includes(path.extname(entry.name))) {
      if (!isIgnored(abs, false, here) && !excluded(abs, false) && included(abs)) found.add(abs);
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function hashText(bytes: Uint8Array | string): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** Read one source as UTF-8 text; binary, non-UTF-8 and unreadable files are FileProblems. */
export async function readSource(file: string, cwd: string): Promise<ReadSource> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new FileProblem(file, `cannot read: ${errorMessage(err)}`);
  }
  if (bytes.subarray(0, 8192).includes(0)) throw new FileProblem(file, 'looks like a binary file (contains NUL bytes); skipped');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new FileProblem(file, 'is not valid UTF-8; skipped');
  }
  return { path: file, relPath: path.relative(cwd, file) || path.basename(file), text, hash: hashText(bytes) };
}

/** The line ending a file mostly uses, so inserted lines match it. */
export function dominantEol(text: string): '\n' | '\r\n' {
  const crlf = text.split('\r\n').length - 1;
  const lf = text.split('\n').length - 1 - crlf;
  return crlf > lf ? '\r\n' : '\n';
}

/**
 * Replace a file's content atomically (temp file + rename), refusing when the file on disk is no
 * longer what was read (someone edited it during the run).
 */
export async function writeSourceAtomically(file: string, expectedHash: string, text: string): Promise<void> {
  let current: Buffer;
  try {
    current = await readFile(file);
  } catch (err) {
    throw new FileProblem(file, `cannot re-read before writing: ${errorMessage(err)}`);
  }
  if (hashText(current) !== expectedHash) throw new FileProblem(file, 'changed on disk during the run; not written (run otpfix again)');
  try {
    await writeFileAtomic(file, text, { encoding: 'utf8' });
  } catch (err) {
    throw new FileProblem(file, `cannot write: ${errorMessage(err)}`);
  }
}
