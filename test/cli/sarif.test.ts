/**
 * `scan --format sarif` validated against the official SARIF 2.1.0 schema (vendored in
 * test/schemas), and checked for meaning: rules with help, locations, and fixes whose replacements,
 * applied to the original files, give exactly what `fix --yes` writes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import type * as Sarif from 'sarif';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transforms } from '../../src/transforms/index.js';
import { ROOT } from '../support/fixtures.js';
import { APP, makeProject, POOL, runCli, WORK, type Project } from '../support/cli.js';

const schema = JSON.parse(readFileSync(path.join(ROOT, 'test/schemas/sarif-schema-2.1.0.json'), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(schema);

/** Apply SARIF replacements (line/column regions, UTF-16 columns) to a text. */
function applyReplacements(text: string, replacements: Sarif.Replacement[]): string {
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const offset = (line: number, column: number) => lineStarts[line - 1] + column - 1;
  const spans = replacements.map((r) => {
    const d = r.deletedRegion;
    const start = offset(d.startLine!, d.startColumn!);
    const end = offset(d.endLine ?? d.startLine!, d.endColumn ?? d.startColumn!);
    // The char offsets must agree with the line/column region.
    expect([d.charOffset, d.charLength]).toEqual([start, end - start]);
    return { start, end, text: r.insertedContent?.text ?? '' };
  });
  let out = text;
  for (const s of spans.sort((a, b) => b.start - a.start)) out = out.slice(0, s.start) + s.text + out.slice(s.end);
  return out;
}

// A CRLF copy of the pool module: replacements must carry the file's line endings.
const POOL_CRLF = POOL.replace(/\n/g, '\r\n');
const SUPPRESSED = `defmodule MyApp.Quiet do
  def start_link(_opts) do
    # otpfix:disable-next-line supervisor-max-children -- bounded by the caller
    DynamicSupervisor.start_link(name: MyApp.Quiet, strategy: :one_for_one)
  end

  # otpfix:disable-next-line supervisor-max-children
  def nothing_here, do: :ok

  def open(spec), do: DynamicSupervisor.start_child(MyApp.Quiet, spec)
end
`;

let project: Project;
let log: Sarif.Log;
let code: number;
beforeAll(async () => {
  project = makeProject({ 'lib/app.ex': APP, 'lib/pool.ex': POOL, 'lib/crlf pool.ex': POOL_CRLF, 'lib/quiet.ex': SUPPRESSED, 'lib/work.ex': WORK });
  const run = await runCli(['scan', 'lib', '--format', 'sarif'], project.dir);
  code = run.code;
  log = JSON.parse(run.stdout);
});
afterAll(() => project.remove());

describe('scan --format sarif', () => {
  it('is valid SARIF 2.1.0 per the official schema', () => {
    const ok = validate(log);
    expect(validate.errors ?? [], ajv.errorsText(validate.errors)).toEqual([]);
    expect(ok).toBe(true);
    expect(code).toBe(1);
  });

  it('the validator rejects a broken log (the schema check can fail)', () => {
    const broken = structuredClone(log);
    (broken.runs[0].results![0] as unknown as Record<string, unknown>).level = 'fatal';
    expect(validate(broken)).toBe(false);
    const noVersion = { ...structuredClone(log), version: undefined };
    expect(validate(noVersion)).toBe(false);
  });

  it('describes the rules that ran, with the explanation as help', () => {
    const rules = log.runs[0].tool.driver.rules!;
    expect(rules.map((r) => r.id)).toEqual(transforms.map((t) => t.id));
    const rule = rules.find((r) => r.id === 'supervisor-max-children')!;
    expect(rule.shortDescription?.text).toBe('Dynamic supervisor without max_children');
    expect(rule.help?.markdown).toContain('```elixir');
    expect(rule.help?.text.length).toBeGreaterThan(300);
    expect(rule.defaultConfiguration?.level).toBe('warning');
  });

  it('gives each finding a location relative to %SRCROOT%', () => {
    const run = log.runs[0];
    expect(run.originalUriBaseIds!['%SRCROOT%'].uri).toBe(`file://${project.dir}/`);
    const active = run.results!.filter((r) => !r.suppressions);
    expect(active).toHaveLength(5);
    const app = active.find((r) => r.locations![0].physicalLocation!.artifactLocation!.uri === 'lib/app.ex')!;
    expect(app.ruleId).toBe('supervisor-max-children');
    expect(run.tool.driver.rules![app.ruleIndex!].id).toBe('supervisor-max-children');
    expect(app.level).toBe('warning');
    expect(app.locations![0].physicalLocation!.region).toMatchObject({ startLine: 8, startColumn: 7, endLine: 8 });
    // A path with a space is percent-encoded as a URI reference.
    expect(active.some((r) => r.locations![0].physicalLocation!.artifactLocation!.uri === 'lib/crlf%20pool.ex')).toBe(true);
    // Fingerprints are stable and distinct.
    const prints = active.map((r) => r.partialFingerprints!['otpfixKey/v1']);
    expect(new Set(prints).size).toBe(prints.length);
  });

  it('gives fixes as artifactChanges whose replacements produce exactly what fix --yes writes', async () => {
    const byFile = new Map<string, Sarif.Replacement[]>();
    for (const result of log.runs[0].results!.filter((r) => !r.suppressions)) {
      expect(result.fixes, 'every fixable finding carries its fix').toHaveLength(1);
      for (const change of result.fixes![0].artifactChanges) {
        const uri = decodeURIComponent(change.artifactLocation.uri!);
        byFile.set(uri, [...(byFile.get(uri) ?? []), ...change.replacements]);
      }
    }
    const originals = new Map([...byFile.keys()].map((rel) => [rel, project.file(rel)]));
    // work.ex has no fix but starts the pools' children: without it the pools are detect-only.
    const copy = makeProject({ ...Object.fromEntries(originals), 'lib/work.ex': WORK });
    try {
      const fixed = await runCli(['fix', 'lib', '--yes'], copy.dir);
      expect(fixed.code).toBe(0);
      for (const [rel, replacements] of byFile) expect(applyReplacements(originals.get(rel)!, replacements), rel).toBe(copy.file(rel));
      expect(copy.file('lib/crlf pool.ex')).toContain('max_children: 1000)\r\n');
    } finally {
      copy.remove();
    }
  });

  it('keeps suppressed findings as results marked inSource, and reports the unused suppression', () => {
    const run = log.runs[0];
    const suppressed = run.results!.filter((r) => r.suppressions);
    expect(suppressed).toHaveLength(1);
    expect(suppressed[0].suppressions).toEqual([{ kind: 'inSource' }]);
    expect(suppressed[0].locations![0].physicalLocation!.region!.startLine).toBe(4);
    const notes = run.invocations![0].toolExecutionNotifications!;
    const unused = notes.filter((n) => n.descriptor?.id === 'unused-suppression');
    expect(unused).toHaveLength(1);
    expect(unused[0].locations![0].physicalLocation!.region!.startLine).toBe(7);
    expect((run.properties!.summary as { unusedSuppressions: unknown[] }).unusedSuppressions).toHaveLength(1);
  });
});
