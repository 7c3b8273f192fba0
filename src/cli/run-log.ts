/**
 * What a run says on stderr besides findings: a progress line on long runs (TTY only), warnings,
 * summaries, and with --verbose per-file status and timings. --quiet keeps only errors.
 */
import type { DetectResult } from '../core/engine.js';
import type { FileModel } from '../core/model/module.js';
import type { FileStatus } from '../core/workspace.js';
import { printable } from './format.js';
import { colorsFor, type Colors, type Io } from './output.js';

export interface LogLevel {
  quiet?: boolean;
  verbose?: boolean;
}

/** Show progress only when a run lasts longer than this, and redraw at most this often. */
const PROGRESS_AFTER_MS = 300;
const REDRAW_MS = 80;

export class RunLog {
  readonly c: Colors;
  private readonly started = performance.now();
  private lastDraw = 0;
  private drawn = false;
  private readonly parseMs = new Map<string, number>();
  private loadMs = 0;
  private detectMs = 0;

  constructor(
    private readonly io: Io,
    private readonly level: LogLevel = {},
    private readonly progressAfterMs = PROGRESS_AFTER_MS,
  ) {
    this.c = colorsFor(io.stderr);
  }

  get quiet(): boolean {
    return !!this.level.quiet;
  }

  /** Progress is for a person watching a terminal; --verbose prints lines instead. */
  private get showProgress(): boolean {
    return !!this.io.stderr.isTTY && !this.level.quiet && !this.level.verbose;
  }

  onLoad = (status: FileStatus, ms: number, done: number, total: number): void => {
    this.loadMs += ms;
    if (status.status === 'ok') this.parseMs.set(status.path, ms);
    this.progress('parsing', done, total, status.relPath);
  };

  onDetect = (file: FileModel, result: DetectResult, ms: number, done: number, total: number): void => {
    this.detectMs += ms;
    if (this.level.verbose) {
      const n = result.findings.length;
      const parts = [
        `parse ${fmtMs(this.parseMs.get(file.path) ?? 0)}`,
        `detect ${fmtMs(ms)}`,
        n ? `${n} finding${n === 1 ? '' : 's'}` : 'no findings',
      ];
      if (result.suppressed.length) parts.push(`${result.suppressed.length} suppressed`);
      if (result.problems.length) parts.push(this.c.red(`${result.problems.length} rule error${result.problems.length === 1 ? '' : 's'}`));
      this.io.err(`${this.c.green('ok')}      ${printable(file.relPath)}  ${this.c.dim(parts.join(', '))}`);
    }
    this.progress('checking', done, total, file.relPath);
    if (done === total) this.clearProgress();
  };

  private progress(phase: string, done: number, total: number, file: string): void {
    if (!this.showProgress) return;
    const now = performance.now();
    if (now - this.started < this.progressAfterMs || (now - this.lastDraw < REDRAW_MS && done !== total)) return;
    this.lastDraw = now;
    const width = Math.max(20, (this.io.stderr.columns ?? 80) - 1);
    const line = `otpfix: ${phase} ${done}/${total} ${printable(file)}`;
    this.io.stderr.write(`\r\x1b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
    this.drawn = true;
  }

  clearProgress(): void {
    if (!this.drawn) return;
    this.io.stderr.write('\r\x1b[2K');
    this.drawn = false;
  }

  error(text: string): void {
    this.clearProgress();
    this.io.err(text);
  }

  warn(text: string): void {
    this.clearProgress();
    if (!this.level.quiet) this.io.err(text);
  }

  /** Summaries and status lines: not with --quiet. */
  info(text: string): void {
    this.clearProgress();
    if (!this.level.quiet) this.io.err(text);
  }

  verbose(text: string): void {
    if (this.level.verbose) this.io.err(this.c.dim(text));
  }

  /** --verbose: where the time went. */
  timings(files: number): void {
    this.verbose(
      `${files} file${files === 1 ? '' : 's'}: read+parse ${fmtMs(this.loadMs)}, detect ${fmtMs(this.detectMs)}, total ${fmtMs(performance.now() - this.started)}`,
    );
  }
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}
