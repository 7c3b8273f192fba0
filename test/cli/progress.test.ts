/** Progress on stderr: drawn on a TTY only, never with --quiet or --verbose, and cleared at the end. */
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/output.js';
import { RunLog } from '../../src/cli/run-log.js';
import type { DetectResult } from '../../src/core/engine.js';
import type { FileModel } from '../../src/core/model/module.js';

function capture(isTTY: boolean) {
  const writes: string[] = [];
  const lines: string[] = [];
  const stream = { isTTY, columns: 60, write: (t: string) => (writes.push(t), true) } as unknown as NodeJS.WriteStream;
  const io: Io = { out: () => {}, err: (t) => lines.push(t), stdout: stream, stderr: stream };
  return { io, writes, lines };
}

const empty: DetectResult = { findings: [], problems: [], suppressed: [] };
const file = (rel: string) => ({ path: `/x/${rel}`, relPath: rel }) as FileModel;

function drive(log: RunLog): void {
  for (let i = 1; i <= 3; i++) log.onLoad({ path: `/x/f${i}.ex`, relPath: `lib/f${i}.ex`, status: 'ok' }, 1, i, 3);
  for (let i = 1; i <= 3; i++) log.onDetect(file(`lib/f${i}.ex`), empty, 1, i, 3);
}

describe('progress', () => {
  it('is drawn on a TTY stderr once a run is long enough, and cleared when detection ends', () => {
    const { io, writes } = capture(true);
    drive(new RunLog(io, {}, 0));
    expect(writes[0]).toBe('\r\x1b[2Kotpfix: parsing 1/3 lib/f1.ex');
    expect(writes.some((w) => w.includes('otpfix: checking 3/3 lib/f3.ex'))).toBe(true);
    expect(writes.at(-1)).toBe('\r\x1b[2K');
  });

  it('is cut to the terminal width', () => {
    const { io, writes } = capture(true);
    const log = new RunLog(io, {}, 0);
    log.onLoad({ path: '/x/y.ex', relPath: `lib/${'very_long_name_'.repeat(8)}.ex`, status: 'ok' }, 1, 1, 1);
    expect(writes[0].replace('\r\x1b[2K', '').length).toBeLessThanOrEqual(59);
    expect(writes[0].endsWith('…')).toBe(true);
  });

  it('is not drawn for short runs', () => {
    const { io, writes } = capture(true);
    drive(new RunLog(io, {}, 60_000));
    expect(writes).toEqual([]);
  });

  it('is never drawn when stderr is not a TTY, with --quiet, or with --verbose (which prints lines)', () => {
    for (const [tty, level] of [
      [false, {}],
      [true, { quiet: true }],
      [true, { verbose: true }],
    ] as const) {
      const { io, writes, lines } = capture(tty);
      drive(new RunLog(io, level, 0));
      expect(writes).toEqual([]);
      if ('verbose' in level) expect(lines.filter((l) => stripVTControlCharacters(l).includes('ok      lib/f'))).toHaveLength(3);
    }
  });

  it('is cleared before a warning is printed', () => {
    const { io, writes, lines } = capture(true);
    const log = new RunLog(io, {}, 0);
    log.onLoad({ path: '/x/f.ex', relPath: 'lib/f.ex', status: 'ok' }, 1, 1, 2);
    log.warn('warning something');
    expect(writes.at(-1)).toBe('\r\x1b[2K');
    expect(lines).toEqual(['warning something']);
  });
});
