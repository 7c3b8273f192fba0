/**
 * Deferred work (blocking-handle-call, task-await-in-callback): each refusal says what blocks the
 * fix, so a site left alone is never silent. The detect-* fixtures must be reported as detect only
 * with these reasons.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepare } from '../src/api.js';
import { runFixSession } from '../src/core/engine.js';
import { FIXTURES } from './support/fixtures.js';

const REFUSALS: Array<[rule: string, fixture: string, reason: RegExp]> = [
  ['blocking-handle-call', 'detect-lost-update-helper.ex', /`new_state` comes from the state as it was.*`sync_sku\(state, sku\)`.*lost update.*run only the blocking call in a task/],
  ['blocking-handle-call', 'detect-lost-update-stale-read.ex', /`pings` comes from the state as it was.*`state\.pings`.*lost update/],
  ['blocking-handle-call', 'detect-library-without-application', /no application module \(a library.*`taskSupervisor` option/],
  ['blocking-handle-call', 'detect-owned-socket.ex', /opens a socket, which the calling process owns/],
  ['blocking-handle-call', 'detect-disk-serialized.ex', /local disk I\/O.*serializing those file operations on purpose/],
  ['task-await-in-callback', 'detect-periodic-overlap-struct.ex', /the state is a struct.*async_nolink/],
];

async function detectOnly(rule: string, target: string) {
  const prepared = await prepare({ paths: [target], cwd: path.dirname(target), rules: [rule], config: { rules: {}, include: [], exclude: [] } });
  const session = await runFixSession(prepared.workspace, prepared.rules, { decide: () => 'yes' });
  return { applied: session.applied.length, messages: session.detectOnly.map((f) => f.message) };
}

describe('deferred work refuses with the reason', () => {
  it.each(REFUSALS)('%s %s', async (rule, fixture, reason) => {
    const run = await detectOnly(rule, path.join(FIXTURES, 'before', rule, fixture));
    expect(run.applied).toBe(0);
    expect(run.messages.join('\n')).toMatch(reason);
  });
});
