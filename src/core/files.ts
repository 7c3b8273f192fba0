/**
 * Finding and reading Elixir sources: walk the given paths, honour .gitignore, skip build output,
 * and turn unreadable, binary or non-UTF-8 files into per-file problems instead of crashes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { errorMessage, ioError, usageError } from './errors.js';

export const ELIXIR_EXTENSIONS = ['.ex', '.exs'];
const ALWAYS_SKIPPED = new Set(['_build', 'deps', 'node_modules', '.git', '.elixir_ls', 'cover']);

export interface ReadSource {
  path: string;
  relPath: string;
  text: string;
  /** Hash of the bytes read, to notice files changed by someone else before writing. */
  hash: string;
  /** The file starts with a UTF-8 byte-order mark, which `text` leaves out and writes put back. */
  bom?: boolean;
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
  /** Told of each temporary file an interrupted otpfix run left beside a source (see `isStaleTemporary`). */
  onTemporary?: (file: string) => void;
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
    const stat = statGiven(abs, given);
    if (stat.isFile()) {
      if (!ELIXIR_EXTENSIONS.includes(path.extname(abs)))
        throw usageError(`not an Elixir source file (.ex or .exs): ${given}`);
      found.add(abs);
      findTemporaries(path.dirname(abs), path.basename(abs), options.onTemporary);
      continue;
    }
    if (!stat.isDirectory()) throw usageError(`not a file or directory (${fileKind(stat)}): ${given}`, 'Name Elixir source files or the directories that hold them.');
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
      options.onTemporary,
    );
  }
  return [...found].sort();
}

/** What a path named on the command line is, with the reason in words when it cannot be used. */
function statGiven(abs: string, given: string): Stats {
  try {
    return statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw usageError(`symbolic link loop: ${given}`, 'The link points (through other links) back to itself; name its target instead.');
    if (code === 'ENOENT' && existsLink(abs))
      throw usageError(`broken symbolic link: ${given} points to ${readlinkSync(abs)}, which does not exist`);
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw usageError(`path does not exist: ${given}`, 'Check the spelling, or run from the project root.');
    if (code === 'EACCES') throw ioError(`permission denied: ${given}`);
    throw ioError(`cannot read ${given}: ${errorMessage(err)}`);
  }
}

function existsLink(abs: string): boolean {
  try {
    return lstatSync(abs).isSymbolicLink();
  } catch {
    return false;
  }
}

function fileKind(stat: Stats): string {
  if (stat.isFIFO()) return 'a named pipe';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  return 'not a regular file';
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
  onTemporary?: (file: string) => void,
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
      walk(abs, here, found, excluded, included, onTemporary);
    } else if (entry.isFile() && ELIXIR_EXTENSIONS.includes(path.extname(entry.name))) {
      if (!isIgnored(abs, false, here) && !excluded(abs, false) && included(abs)) found.add(abs);
    } else if (onTemporary && entry.isFile() && TEMPORARY.test(entry.name)) onTemporary(abs);
  }
}

/**
 * Temporary files are named `<source>.otpfix-<pid>-<random>.tmp` beside the source (a rename is
 * atomic only within one directory), so a run killed while writing leaves something recognisable.
 */
const TEMPORARY = /^(.+\.exs?)\.otpfix-(\d+)-[0-9a-f]{8}\.tmp$/;

export function temporaryName(file: string): string {
  return `${file}.otpfix-${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
}

function findTemporaries(dir: string, source: string, onTemporary?: (file: string) => void): void {
  if (!onTemporary) return;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (TEMPORARY.exec(name)?.[1] === source) onTemporary(path.join(dir, name));
}

/** A temporary file still being written by a live otpfix process is not stale (unless it is an hour old). */
export function isStaleTemporary(file: string, now = Date.now()): boolean {
  const pid = Number(TEMPORARY.exec(path.basename(file))?.[2]);
  if (!pid) return false;
  try {
    if (now - statSync(file).mtimeMs > 3_600_000) return true;
  } catch {
    return false;
  }
  if (pid === process.pid) return true; // this run writes nothing before it has looked for temporaries
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

// ignoreBOM: keep a byte-order mark in the decoded text, so it can be put back when writing.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function hashText(bytes: Uint8Array | string): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** Files larger than this are not analysed unless configured otherwise (`maxFileSize`). */
export const DEFAULT_MAX_FILE_SIZE = 1_000_000;

export function formatBytes(n: number): string {
  // One decimal below 10 kB, so a file just over a limit does not read as the limit itself.
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(1)} MB`;
  return n >= 1000 ? `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)} kB` : `${n} bytes`;
}

export interface ReadOptions {
  /** Larger files are a FileProblem (default DEFAULT_MAX_FILE_SIZE; 0 for no limit). */
  maxFileSize?: number;
}

/** Read one source as UTF-8 text; binary, non-UTF-8, oversized and unreadable files are FileProblems. */
export async function readSource(file: string, cwd: string, options: ReadOptions = {}): Promise<ReadSource> {
  const limit = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  let bytes: Buffer;
  try {
    const size = (await stat(file)).size;
    if (limit > 0 && size > limit)
      throw new FileProblem(
        file,
        `is ${formatBytes(size)}, above the ${formatBytes(limit)} limit; not analysed (raise maxFileSize in .otpfix.json or pass --max-file-size)`,
      );
    bytes = await readFile(file);
  } catch (err) {
    if (err instanceof FileProblem) throw err;
    throw new FileProblem(file, `cannot read: ${errorMessage(err)}`);
  }
  if (bytes.subarray(0, 8192).includes(0)) throw new FileProblem(file, 'looks like a binary file (contains NUL bytes); skipped');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new FileProblem(file, 'is not valid UTF-8; skipped');
  }
  const bom = text.startsWith(BOM);
  return {
    path: file,
    relPath: path.relative(cwd, file) || path.basename(file),
    text: bom ? text.slice(1) : text,
    hash: hashText(bytes),
    ...(bom ? { bom } : {}),
  };
}

export const BOM = '\uFEFF';

/** The line ending a file mostly uses, so inserted lines match it. */
export function dominantEol(text: string): '\n' | '\r\n' {
  const crlf = text.split('\r\n').length - 1;
  const lf = text.split('\n').length - 1 - crlf;
  return crlf > lf ? '\r\n' : '\n';
}

/**
 * Replace a file's content atomically, refusing when the file on disk is no longer what was read
 * (someone edited it during the run). The text goes to a temporary file beside it (see
 * `temporaryName`) with the file's permissions, is flushed to disk, then renamed over it: a reader,
 * a crash or a SIGKILL sees the old bytes or the new ones, never a mix. A symbolic link is kept and
 * its target written.
 */
export async function writeSourceAtomically(file: string, expectedHash: string, text: string): Promise<void> {
  let current: Buffer;
  let target: string;
  let mode: number;
  try {
    target = await realpath(file);
    mode = (await stat(target)).mode & 0o7777;
    current = await readFile(target);
  } catch (err) {
    throw new FileProblem(file, `cannot re-read before writing: ${errorMessage(err)}`);
  }
  if (hashText(current) !== expectedHash) throw new FileProblem(file, 'changed on disk during the run; not written (run otpfix again)');
  const temp = temporaryName(target);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.chmod(mode); // open's mode is filtered by the umask
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new FileProblem(file, `cannot write: ${errorMessage(err)}`);
  }
}
