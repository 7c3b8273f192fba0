/**
 * Negative fixtures of issue 8: the site is reported, not rewritten, and the message says what blocks
 * the fix and how to fix it by hand.
 *
 * Any `detect-*` case may also name the reason its fix is refused, in a comment line
 * `# otpfix-refused: <words the message must contain>` (several lines: every one must match). Such a
 * case must be reported, not fixable, and its message must say why.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scan } from '../src/api.js';
import { discoverCases, FIXTURES, readCaseFile } from './support/fixtures.js';

async function findingsOf(rule: string, name: string, options?: Record<string, unknown>) {
  const target = path.join(FIXTURES, 'before', rule, name);
  const result = await scan({
    paths: [target],
    cwd: path.dirname(target),
    rules: [rule],
    config: { rules: options ? { [rule]: { options } } : {}, include: [], exclude: [] },
  });
  return result.findings;
}

describe('send-without-backpressure refuses to drop messages that may be a contract', () => {
  it('reports a ledger fan-out without offering send_or_drop, and says how to fix it', async () => {
    const [f, ...rest] = await findingsOf('send-without-backpressure', 'detect-ledger-events.ex');
    expect(rest).toEqual([]);
    expect(f.fixable).toBe(false);
    expect(f.message).toContain('Not rewritten');
    expect(f.message).toContain('a ledger event, a job or a reply must arrive');
    expect(f.message).toContain('dropWhenFull');
  });

  it('offers the fix once the option says the messages may be dropped', async () => {
    const [f] = await findingsOf('send-without-backpressure', 'detect-ledger-events.ex', { dropWhenFull: true });
    expect(f.fixable).toBe(true);
    expect(f.message).not.toContain('Not rewritten');
  });
});

const cases = discoverCases()
  .filter((c) => c.kind === 'detect')
  .map((c) => {
    const texts = c.files.map((rel) => readCaseFile(c.before, rel));
    const reasons = texts.flatMap((t) => [...t.matchAll(/^\s*# otpfix-refused: (.+)$/gm)].map((m) => m[1].trim()));
    return { ...c, reasons };
  })
  .filter((c) => c.reasons.length);

describe.each(cases.map((c) => [`${c.rule}/${c.name}`, c] as const))('%s', (_name, c) => {
  it('is reported, not fixable, and says why', async () => {
    const result = await scan({
      paths: [c.before],
      cwd: path.dirname(c.before),
      rules: [c.rule],
      config: { rules: {}, include: [], exclude: [] },
    });
    const findings = result.findings.filter((f) => f.ruleId === c.rule);
    expect(findings.length, 'the case must be reported').toBeGreaterThan(0);
    for (const f of findings) expect(f.fixable, `${f.key} must not be fixable`).toBe(false);
    const messages = findings.map((f) => f.message).join('\n');
    for (const reason of c.reasons) expect(messages).toContain(reason);
  });
});

// Keep the reader honest: a reason line outside a detect-* case is a mistake.
it('reason lines appear only in detect-* cases', () => {
  for (const c of discoverCases().filter((x) => x.kind !== 'detect'))
    for (const rel of c.files) expect(readFileSync(rel ? path.join(c.before, rel) : c.before, 'utf8')).not.toMatch(/# otpfix-refused:/);
});

describe('ets-unbounded-growth keeps what readers read, or refuses', () => {
  const rule = 'ets-unbounded-growth';

  it('refuses when a reader reads a number of windows known only at run time', async () => {
    const [f] = await findingsOf(rule, 'detect-windows-read-at-runtime.ex');
    expect(f.fixable).toBe(false);
    expect(f.message).toContain('Not rewritten: Api.WindowedCounter.total/2');
    expect(f.message).toContain('cannot tell how many windows its readers need');
    expect(f.message).toContain('keeping at least what the longest reader reads');
  });

  it('refuses an audit log whose reader returns entries of any age', async () => {
    const [f] = await findingsOf(rule, 'detect-event-log-read-whole.ex');
    expect(f.fixable).toBe(false);
    expect(f.message).toContain(':ets.select/2 matches entries of any age');
  });

  it('refuses a log whose reader counts every entry of a key', async () => {
    const [f] = await findingsOf(rule, 'detect-request-log-counts-all.ex');
    expect(f.fixable).toBe(false);
    expect(f.message).toContain('reads entries by a key that does not hold the time');
  });

  it('refuses write times nothing reads, unless retentionMs says how long readers elsewhere need them', async () => {
    const [f] = await findingsOf(rule, 'detect-write-time-never-read.ex');
    expect(f.fixable).toBe(false);
    expect(f.message).toContain('nothing in the project reads the table');
    expect(f.message).toContain('retentionMs');
    const [g] = await findingsOf(rule, 'detect-write-time-never-read.ex', { retentionMs: 600_000 });
    expect(g.fixable).toBe(true);
  });

  it('keeps every window a sliding-window reader sums, and one more', async () => {
    const [f] = await findingsOf(rule, 'sliding-window-reader.ex');
    expect(f.fixable).toBe(true);
    const after = readFileSync(path.join(FIXTURES, 'after', rule, 'sliding-window-reader.ex'), 'utf8');
    // recent/1 reads (window - 4)..window: buckets below window - 5 go, none it reads.
    expect(after).toContain('[{:<, :"$1", current_window - 5}]');
  });
});
