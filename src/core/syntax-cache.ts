/**
 * A persistent cache of per-file syntax arrays (core/syntax.ts), keyed by the file's content, the
 * otpfix version and the grammar's version, so a rescan parses only files that changed. Entries are
 * written to a temporary file and renamed into place (concurrent runs never see half an entry), and
 * each carries a checksum and is checked before use: a corrupt, truncated or foreign entry is
 * ignored and rebuilt, never trusted.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { learnSymbolNames, symbolNames, type SymbolNames, type SyntaxData } from './syntax.js';

const MAGIC = Buffer.from('OTPFIXS1');
/** Bump when the layout of an entry or of SyntaxData changes. */
const FORMAT = 1;

export interface SyntaxCache {
  readonly dir: string;
  /** The cached arrays of `text`, or undefined (absent, unreadable or invalid). */
  get(text: string): SyntaxData | undefined;
  set(text: string, data: SyntaxData): void;
  readonly stats: { hits: number; misses: number; rejected: number };
}

/** $OTPFIX_CACHE_DIR, else node_modules/.cache/otpfix when `cwd` has node_modules, else the XDG cache dir. */
export function defaultCacheDir(cwd: string): string {
  if (process.env.OTPFIX_CACHE_DIR) return path.resolve(process.env.OTPFIX_CACHE_DIR);
  if (existsSync(path.join(cwd, 'node_modules'))) return path.join(cwd, 'node_modules/.cache/otpfix');
  return path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'otpfix');
}

/** `salt` names what shapes the arrays: the otpfix and grammar versions. */
export function openSyntaxCache(dir: string, salt: string): SyntaxCache {
  const stats = { hits: 0, misses: 0, rejected: 0 };
  const keyOf = (text: string) => createHash('sha1').update(`${FORMAT}\u0000${salt}\u0000`).update(text).digest('hex');
  const fileOf = (key: string) => path.join(dir, key.slice(0, 2), `${key}.bin`);
  return {
    dir,
    stats,
    get(text) {
      const key = keyOf(text);
      let bytes: Buffer;
      try {
        bytes = readFileSync(fileOf(key));
      } catch {
        stats.misses++;
        return undefined;
      }
      const data = decode(bytes, key, text.length);
      if (data) stats.hits++;
      else stats.rejected++;
      return data;
    },
    set(text, data) {
      const file = fileOf(keyOf(text));
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(tmp, encode(data, path.basename(file, '.bin')));
        renameSync(tmp, file);
      } catch {
        // Best effort: a read-only or full disk costs speed, not results.
        rmSync(tmp, { force: true });
      }
    },
  };
}

interface Header {
  key: string;
  count: number;
  names: SymbolNames;
  sum: string;
}

function payload(data: SyntaxData): Buffer[] {
  const view = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  // 4-byte arrays first, so every array starts aligned to its element size.
  return [view(data.starts), view(data.ends), view(data.parents), view(data.types), view(data.fields), view(data.flags)];
}

function encode(data: SyntaxData, key: string): Buffer {
  const body = Buffer.concat(payload(data));
  const all = symbolNames();
  // Only the names this file uses travel with it.
  const names: SymbolNames = { types: [], fields: [] };
  for (const t of data.types) names.types[t] = all.types[t];
  for (const f of data.fields) if (f) names.fields[f] = all.fields[f];
  const header: Header = { key, count: data.count, names, sum: createHash('sha1').update(body).digest('hex') };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  return Buffer.concat([MAGIC, length, json, body]);
}

function decode(bytes: Buffer, key: string, textLength: number): SyntaxData | undefined {
  try {
    if (bytes.length < 12 || !bytes.subarray(0, 8).equals(MAGIC)) return undefined;
    const jsonLength = bytes.readUInt32LE(8);
    const header = JSON.parse(bytes.subarray(12, 12 + jsonLength).toString('utf8')) as Header;
    const n = header.count;
    const body = bytes.subarray(12 + jsonLength);
    if (header.key !== key || !Number.isInteger(n) || n < 1 || body.length !== n * 17) return undefined;
    if (createHash('sha1').update(body).digest('hex') !== header.sum) return undefined;
    // Copies, so each array is aligned and owns its memory.
    let at = 0;
    const take = <T>(make: (b: ArrayBuffer) => T, size: number): T => {
      const b = body.buffer.slice(body.byteOffset + at, body.byteOffset + at + n * size) as ArrayBuffer;
      at += n * size;
      return make(b);
    };
    const data: SyntaxData = {
      count: n,
      starts: take((b) => new Uint32Array(b), 4),
      ends: take((b) => new Uint32Array(b), 4),
      parents: take((b) => new Int32Array(b), 4),
      types: take((b) => new Uint16Array(b), 2),
      fields: take((b) => new Uint16Array(b), 2),
      flags: take((b) => new Uint8Array(b), 1),
    };
    const { types, fields } = header.names;
    if (!Array.isArray(types) || !Array.isArray(fields)) return undefined;
    // The shape a walk produces: the root first, every parent before its children, ranges in the text.
    if (data.parents[0] !== -1) return undefined;
    for (let i = 0; i < n; i++) {
      if (i > 0 && !(data.parents[i] >= 0 && data.parents[i] < i)) return undefined;
      if (data.starts[i] > data.ends[i] || data.ends[i] > textLength) return undefined;
      if (typeof types[data.types[i]] !== 'string') return undefined;
      if (data.fields[i] && typeof fields[data.fields[i]] !== 'string') return undefined;
    }
    learnSymbolNames({ types: types.map((t) => t ?? undefined), fields: fields.map((f) => f ?? undefined) });
    return data;
  } catch {
    return undefined;
  }
}
