import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changedFiles, prepare, writeChanges } from '../../src/api.js';
import type { ActiveRule } from '../../src/core/config.js';
import { applyEdits, editsConflict } from '../../src/core/edit.js';
import { detectAll, isChange, proposeFix, runFixSession } from '../../src/core/engine.js';
import { finding } from '../../src/core/findings.js';
import type { AnyTransform, Edit } from '../../src/core/types.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'otpfix-engine-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A test rule: reports every `:todo` atom; its fix is whatever the test says. */
function todoRule(fix: (f: { start: number; end: number; file: string }) => Edit[]): ActiveRule {
  const t: AnyTransform = {
    id: 'todo',
    title: 'todo atoms',
    severity: 'low',
    fixSafety: 'safe',
    explanation: '',
    options: {},
    detect: ({ file }) =>
      file.tree.rootNode
        .descendantsOfType('atom')
        .filter((n) => n.text === ':todo')
        .map((n) => finding(t, file.path, { node: n, message: 'todo', key: `todo@${n.startPosition.row}`, fixable: true })),
    fix: (f) => ({ edits: fix(f) }),
  };
  return { transform: t, options: {}, severity: 'low', nonProduction: 'info' };
}

/** A detect-only test rule reporting every `:<name>` atom. */
function atomRule(name: string): ActiveRule {
  const t: AnyTransform = {
    id: name,
    title: name,
    severity: 'low',
    fixSafety: 'none',
    explanation: '',
    options: {},
    detect: ({ file }) =>
      file.tree.rootNode
        .descendantsOfType('atom')
        .filter((n) => n.text === `:${name}`)
        .map((n) => finding(t, file.path, { node: n, message: name, key: `${name}@${n.startPosition.row}`, fixable: false })),
  };
  return { transform: t, options: {}, severity: 'low', nonProduction: 'info' };
}

async function load(files: Record<string, string>) {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return prepare({ paths: [dir], cwd: dir, config: { rules: {}, include: [], exclude: [] } });
}

describe('edits', () => {
  it('detects overlaps but lets insertions at one point keep their order', () => {
    const e = (start: number, end: number): Edit => ({ file: 'f', start, end, text: 'x' });
    expect(editsConflict(e(0, 5), e(4, 8))).toBe(true);
    expect(editsConflict(e(0, 5), e(5, 8))).toBe(false);
    expect(editsConflict(e(3, 3), e(0, 5))).toBe(true);
    expect(editsConflict(e(5, 5), e(5, 5))).toBe(false);
    expect(applyEdits('abc', [{ file: 'f', start: 1, end: 1, text: 'X' }, { file: 'f', start: 1, end: 1, text: 'Y' }])).toBe('aXYbc');
  });

  it('gives inserted lines the file line ending', () => {
    expect(applyEdits('a\r\nb\r\n', [{ file: 'f', start: 3, end: 3, text: 'x\ny\n' }], '\r\n')).toBe('a\r\nx\r\ny\r\nb\r\n');
  });
});

describe('verification', () => {
  it('applies a good fix and re-detects nothing', async () => {
    const p = await load({ 'a.ex': 'x = :todo\n' });
    const rule = todoRule((f) => [{ file: f.file, start: f.start, end: f.end, text: ':done' }]);
    const [f] = detectAll(p.workspace, [rule]).findings;
    const change = proposeFix(p.workspace, f, rule);
    expect(isChange(change) && change.files[0].after).toBe('x = :done\n');
  });

  it('drops a fix that would not parse', async () => {
    const p = await load({ 'a.ex': 'x = :todo\n' });
    const rule = todoRule((f) => [{ file: f.file, start: f.start, end: f.end, text: '(:done' }]);
    const change = proposeFix(p.workspace, detectAll(p.workspace, [rule]).findings[0], rule);
    expect(!isChange(change) && change.reason).toMatch(/would not parse/);
  });

  it('drops a fix after which the finding comes back', async () => {
    const p = await load({ 'a.ex': 'x = :todo\n' });
    const rule = todoRule((f) => [{ file: f.file, start: f.start, end: f.start, text: ':todo || ' }]);
    const change = proposeFix(p.workspace, detectAll(p.workspace, [rule]).findings[0], rule);
    expect(!isChange(change) && change.reason).toMatch(/still reports/);
  });

  it('rejects overlapping edits of one fix as a whole', async () => {
    const p = await load({ 'a.ex': 'x = :todo\n' });
    const rule = todoRule((f) => [
      { file: f.file, start: f.start, end: f.end, text: ':a' },
      { file: f.file, start: f.start + 1, end: f.end, text: 'b' },
    ]);
    const change = proposeFix(p.workspace, detectAll(p.workspace, [rule]).findings[0], rule);
    expect(!isChange(change) && change.reason).toMatch(/overlap/);
  });

  it('drops a rewrite that another rule would report in the code it wrote', async () => {
    const p = await load({ 'a.ex': 'x = :todo\ny = :other\n' });
    const todo = todoRule((f) => [{ file: f.file, start: f.start, end: f.end, text: ':wip' }]);
    const wip = atomRule('wip');
    const rules = [todo, wip, atomRule('other')];
    const f = detectAll(p.workspace, [todo]).findings[0];
    const change = proposeFix(p.workspace, f, todo, rules);
    expect(!isChange(change) && change.reason).toBe('the rewrite would be reported by wip (wip); dropped');
    // Findings that were there before, outside the written text, do not block the rewrite.
    const clean = todoRule((g) => [{ file: g.file, start: g.start, end: g.end, text: ':done' }]);
    expect(isChange(proposeFix(p.workspace, f, clean, rules))).toBe(true);
  });

  it('counts as left what a rescan of the final texts reports', async () => {
    const p = await load({ 'a.ex': 'x = :todo\ny = :todo\nz = :other\n' });
    const todo = todoRule((f) => [{ file: f.file, start: f.start, end: f.end, text: ':done' }]);
    const rules = [todo, atomRule('other')];
    let asked = 0;
    const session = await runFixSession(p.workspace, rules, { decide: () => (asked++ ? 'no' : 'yes') });
    expect(session.applied).toHaveLength(1);
    const rescan = detectAll(session.workspace, rules).findings.map((f) => f.key).sort();
    expect(session.left.map((f) => f.key).sort()).toEqual(rescan);
    expect(rescan).toEqual(['other@2', 'todo@1']);
  });

  it('computes each change on the result of the ones accepted before it', async () => {
    const p = await load({ 'a.ex': 'x = :todo\ny = :todo\n' });
    // Each fix also inserts a line at the top: offsets computed before the first accept would be stale.
    const rule = todoRule((f) => [
      { file: f.file, start: 0, end: 0, text: '# fixed\n' },
      { file: f.file, start: f.start, end: f.end, text: ':done' },
    ]);
    const session = await runFixSession(p.workspace, [rule], { decide: () => 'yes' });
    expect(session.applied).toHaveLength(2);
    expect(session.workspace.files[0].text).toBe('# fixed\n# fixed\nx = :done\ny = :done\n');
  });
});

describe('writing', () => {
  it('writes atomically, keeps CRLF, and refuses a file changed during the run', async () => {
    const p = await load({ 'a.ex': 'x = :todo\r\ny = 1\r\n', 'b.ex': 'z = :todo\n' });
    const rule = todoRule((f) => [{ file: f.file, start: f.start, end: f.end, text: ':done\n# checked' }]);
    const session = await runFixSession(p.workspace, [rule], { decide: () => 'yes' });
    expect(changedFiles(session)).toHaveLength(2);
    writeFileSync(path.join(dir, 'b.ex'), 'z = :todo # edited meanwhile\n');
    const outcomes = await writeChanges(session);
    expect(readFileSync(path.join(dir, 'a.ex'), 'utf8')).toBe('x = :done\r\n# checked\r\ny = 1\r\n');
    const b = outcomes.find((o) => o.relPath === 'b.ex')!;
    expect(b.written).toBe(false);
    expect(b.error).toMatch(/changed on disk/);
    expect(readFileSync(path.join(dir, 'b.ex'), 'utf8')).toBe('z = :todo # edited meanwhile\n');
  });
});
