import { scan, type RunOptions } from '../../api.js';
import { usageError } from '../../core/errors.js';
import { colorsFor, type Io } from '../output.js';
import { jsonReport } from '../reporters/json.js';
import { problemsReport, textReport } from '../reporters/text.js';

export const SCAN_FORMATS = ['text', 'json'] as const;

export interface ScanOptions extends RunOptions {
  format: string;
}

/** Exit 0 without findings, 1 with findings. */
export async function scanCommand(options: ScanOptions, io: Io): Promise<number> {
  if (!(SCAN_FORMATS as readonly string[]).includes(options.format))
    throw usageError(`unknown format "${options.format}"`, `Use one of: ${SCAN_FORMATS.join(', ')}.`);
  const result = await scan(options);
  for (const line of problemsReport(result, colorsFor(io.stderr), options.cwd)) io.err(line);
  io.out(options.format === 'json' ? jsonReport(result) : textReport(result, colorsFor(io.stdout)));
  return result.findings.length ? 1 : 0;
}
