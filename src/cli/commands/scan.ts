import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { proposeFixes, scan, type RunOptions } from '../../api.js';
import { baselineOf } from '../../core/baseline.js';
import { errorMessage, ioError, usageError } from '../../core/errors.js';
import { handleTemporaries, requireAnalysed } from './analysed.js';
import { SEVERITIES, type Severity } from '../../core/types.js';
import { colorsFor, type Io } from '../output.js';
import { githubReport } from '../reporters/github.js';
import { jsonReport } from '../reporters/json.js';
import { noticeLines } from '../reporters/notices.js';
import { sarifReport } from '../reporters/sarif.js';
import { problemsReport, textReport } from '../reporters/text.js';
import { RunLog, type LogLevel } from '../run-log.js';
import { scopeFrom, scopeLine, type ScopeOptions } from '../scope-options.js';
import { VERSION } from '../version.js';

import { SCAN_FORMATS } from '../formats.js';

export { SCAN_FORMATS };

export interface ScanOptions extends RunOptions, LogLevel, ScopeOptions {
  format: string;
  /** Exit 1 only when a finding at or above this severity exists (default: any finding). */
  failOn?: string;
  /** Record the reported findings in this file (a baseline) and exit 0. */
  writeBaseline?: string;
}

export function parseSeverity(value: string | undefined, flag: string): Severity | undefined {
  if (value === undefined) return undefined;
  if (!(SEVERITIES as string[]).includes(value))
    throw usageError(`${flag} must be one of ${SEVERITIES.join(', ')} (got "${value}")`);
  return value as Severity;
}

/** Whether a finding of `severity` is at or above `threshold` (high > medium > low > info). */
export function atOrAbove(severity: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(severity) <= SEVERITIES.indexOf(threshold);
}

/** Exit 0 without (qualifying) findings, 1 with. */
export async function scanCommand(options: ScanOptions, io: Io): Promise<number> {
  if (!(SCAN_FORMATS as readonly string[]).includes(options.format))
    throw usageError(`unknown format "${options.format}"`, `Use one of: ${SCAN_FORMATS.join(', ')}.`);
  const failOn = parseSeverity(options.failOn, '--fail-on');
  const log = new RunLog(io, options);
  const choice = await scopeFrom(options, options.cwd);
  const temporaries: string[] = [];
  const result = await scan({ ...options, scope: choice.scope, onLoad: log.onLoad, onDetect: log.onDetect, onTemporary: (f) => temporaries.push(f) });
  log.clearProgress();
  const narrowed = scopeLine(choice, result.statuses.filter((st) => st.status === 'ok').length, result.workspace.files.length);
  if (narrowed) log.info(narrowed);
  log.verbose(`config: ${result.config.source ?? 'none (defaults)'}; rules: ${result.rules.map((r) => r.transform.id).join(', ')}`);
  for (const line of problemsReport({ statuses: result.statuses, problems: [] }, log.c, options.cwd)) log.warn(line);
  requireAnalysed(result.statuses, options.paths, result.workspace.files.length);
  handleTemporaries(temporaries, false, log, options.cwd); // scan writes nothing: `fix` removes them
  for (const line of problemsReport({ statuses: [], problems: result.problems }, log.c, options.cwd)) log.error(line);
  for (const line of noticeLines(result.notices, log.c, options.cwd)) log.warn(line);

  switch (options.format) {
    case 'json':
      io.out(jsonReport(result));
      break;
    case 'sarif':
      io.out(sarifReport({ result, cwd: options.cwd, version: VERSION, fixes: proposeFixes(result, result.findings) }));
      break;
    case 'github': {
      const text = githubReport(result);
      if (text) io.out(text);
      break;
    }
    default: {
      const text = textReport(result, colorsFor(io.stdout), { quiet: options.quiet });
      if (text) io.out(text);
    }
  }
  log.timings(result.statuses.length);
  if (options.writeBaseline) {
    const target = path.resolve(options.cwd, options.writeBaseline);
    try {
      await writeFileAtomic(target, `${JSON.stringify(baselineOf(result.findings, result.workspace), null, 2)}\n`);
    } catch (err) {
      throw ioError(`cannot write the baseline ${options.writeBaseline}: ${errorMessage(err)}`);
    }
    const n = result.findings.length;
    log.info(`wrote ${options.writeBaseline} (${n} finding${n === 1 ? '' : 's'}); later runs with --baseline ${options.writeBaseline} report only new ones`);
    return 0;
  }
  const failing = failOn ? result.findings.filter((f) => atOrAbove(f.severity, failOn)) : result.findings;
  return failing.length ? 1 : 0;
}
