/** Related locations (other sites with the same root cause) in every report format. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scan, type ScanResult } from '../../src/api.js';
import { jsonReport } from '../../src/cli/reporters/json.js';
import { sarifLog } from '../../src/cli/reporters/sarif.js';
import { textReport } from '../../src/cli/reporters/text.js';
import { locate } from '../../src/core/engine.js';
import { ROOT } from '../support/fixtures.js';
import { APP, makeProject, POOL, WORK, type Project } from '../support/cli.js';

const plain = { red: String, yellow: String, cyan: String, dim: String, green: String, bold: String, underline: String };

let project: Project;
let result: ScanResult;
beforeAll(async () => {
  project = makeProject({ 'lib/app.ex': APP, 'lib/pool.ex': POOL, 'lib/work.ex': WORK });
  const scanned = await scan({ paths: ['lib'], cwd: project.dir, rules: ['supervisor-max-children'], config: { rules: {}, include: [], exclude: [] } });
  const [first, ...rest] = scanned.findings;
  const pool = scanned.workspace.files.find((f) => f.relPath === 'lib/pool.ex')!;
  const at = pool.text.indexOf('DynamicSupervisor');
  const withRelated = locate(scanned.workspace, {
    ...first,
    related: [{ file: pool.path, start: at, end: at + 'DynamicSupervisor'.length, message: 'the same root cause here' }],
  });
  result = { ...scanned, findings: [withRelated, ...rest] };
});
afterAll(() => project.remove());

describe('related locations', () => {
  it('JSON lists them with relative paths and 1-based positions', () => {
    const json = JSON.parse(jsonReport(result));
    const pool = readFileSync(path.join(project.dir, 'lib/pool.ex'), 'utf8');
    const line = pool.slice(0, pool.indexOf('DynamicSupervisor')).split('\n').length;
    expect(json.findings[0].related).toEqual([
      { file: 'lib/pool.ex', line, column: expect.any(Number), endLine: line, endColumn: expect.any(Number), message: 'the same root cause here' },
    ]);
    expect(json.findings[1].related).toBeUndefined();
  });

  it('SARIF has relatedLocations and stays valid against the schema', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(path.join(ROOT, 'test/schemas/sarif-schema-2.1.0.json'), 'utf8')));
    const log = sarifLog({ result, cwd: project.dir, version: '0', fixes: new Map() });
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    const related = log.runs[0].results![0].relatedLocations!;
    expect(related[0].message?.text).toBe('the same root cause here');
    expect(related[0].physicalLocation?.artifactLocation?.uri).toBe('lib/pool.ex');
  });

  it('text output shows them under the finding', () => {
    expect(textReport(result, plain)).toMatch(/also lib\/pool\.ex:\d+:\d+ the same root cause here/);
  });
});
