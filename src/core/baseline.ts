/**
 * Baselines (`--write-baseline`, `--baseline`): the findings a team accepts for now, so that a check
 * on a large legacy codebase reports only new ones. A finding is matched without its line numbers:
 * rule + file + enclosing function + a fingerprint of its code, so edits elsewhere in the file (lines
 * added above it) do not make it new. Identical entries are counted, so a second copy of the same
 * flaw in the same function is new.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { configError, errorMessage, usageError } from './errors.js';
import { enclosingFunction } from './findings.js';
import { positionOf } from './position.js';
import type { Scope } from './scope.js';
import type { Finding } from './types.js';
import type { Workspace } from './workspace.js';

export interface BaselineEntry {
  ruleId: string;
  /** Relative to the directory the baseline was written from, with forward slashes. */
  file: string;
  /** `Mod.fun/arity`, the module, or `-` (see enclosingFunction). */
  function: string;
  /** sha256 of rule, file, function and the finding's code with whitespace collapsed. */
  fingerprint: string;
  /** For readers only; matching ignores them. */
  line: number;
  message: string;
}

export interface Baseline {
  version: 1;
  tool: 'otpfix';
  findings: BaselineEntry[];
}

/** Short findings are matched on their whole text, longer ones on their first line. */
const WHOLE_TEXT_LINES = 5;

/** The finding's code, whitespace collapsed (indentation and reformatting do not make it new). */
export function codeOf(text: string, start: number, end: number): string {
  let code = text.slice(start, end);
  const lines = code.split('\n');
  if (lines.length > WHOLE_TEXT_LINES) code = lines[0];
  return code.replace(/\s+/g, ' ').trim();
}

export interface Fingerprinted {
  file: string;
  function: string;
  fingerprint: string;
  line: number;
}

export function fingerprint(finding: Finding, ws: Workspace): Fingerprinted {
  const model = ws.file(finding.file);
  const text = model?.text ?? '';
  const file = (model?.relPath ?? finding.file).split('\\').join('/');
  const fn = model ? enclosingFunction(model, finding.start) : '-';
  const hash = createHash('sha256')
    .update([finding.ruleId, file, fn, codeOf(text, finding.start, finding.end)].join('\0'))
    .digest('hex');
  return { file, function: fn, fingerprint: hash, line: positionOf(text, finding.start).line };
}

export function baselineOf(findings: Finding[], ws: Workspace): Baseline {
  return {
    version: 1,
    tool: 'otpfix',
    findings: findings.map((f) => {
      const { line, ...print } = fingerprint(f, ws);
      return { ruleId: f.ruleId, ...print, line, message: f.message };
    }),
  };
}

export function readBaseline(file: string): Baseline {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`cannot read the baseline ${file}: ${errorMessage(err)}`, 'Write one with `otpfix scan --write-baseline <file>`.');
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw configError(`${file} is not a baseline (not JSON: ${errorMessage(err)})`);
  }
  const b = data as Partial<Baseline>;
  if (!b || b.version !== 1 || !Array.isArray(b.findings) || b.findings.some((e) => typeof e?.fingerprint !== 'string'))
    throw configError(`${file} is not an otpfix baseline (version 1 with findings[].fingerprint)`);
  return b as Baseline;
}

/** Findings not in the baseline: each baseline entry absorbs one matching finding. */
export function baselineScope(baseline: Baseline): Scope {
  return {
    findings: (found, ws) => {
      const left = new Map<string, number>();
      for (const e of baseline.findings) left.set(e.fingerprint, (left.get(e.fingerprint) ?? 0) + 1);
      return found.filter((f) => {
        const print = fingerprint(f, ws).fingerprint;
        const n = left.get(print) ?? 0;
        if (n > 0) left.set(print, n - 1);
        return n === 0;
      });
    },
  };
}
