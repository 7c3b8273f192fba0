/**
 * Negative fixtures of issue 8: the site is reported, not rewritten, and the message says what blocks
 * the fix and how to fix it by hand.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scan } from '../src/api.js';
import { FIXTURES } from './support/fixtures.js';

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
