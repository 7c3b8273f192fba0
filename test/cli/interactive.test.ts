/**
 * Interactive fix sessions with an injected prompt and editor: every choice, edits re-verified
 * before use, changes recomputed after an accept, the summary, and interruption (Ctrl-C at a
 * prompt, a signal while writing) leaving each file untouched or completely written.
 */
import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepare } from '../../src/api.js';
import { fixCommand, type FixOptions } from '../../src/cli/commands/fix.js';
import type { Io } from '../../src/cli/output.js';
import type { EditFn, EditTarget } from '../../src/cli/review/editor.js';
import type { Choice } from '../../src/cli/review/interactive.js';
import { runFixSession, type Change } from '../../src/core/engine.js';
import { APP, makeProject, POOL, WORK, type Project } from '../support/cli.js';

const FILES = { 'lib/app.ex': APP, 'lib/pool.ex': POOL, 'lib/work.ex': WORK };

let p: Project;
beforeEach(() => {
  p = makeProject(FILES);
});
afterEach(() => p.remove());

interface Session {
  code: number;
  out: string;
  err: string;
  /** How many times the prompt was shown. */
  asked: number;
  edits: EditTarget[];
}

/** A scripted person: answers in order; throws when asked more than the script holds. */
async function session(answers: Array<Choice | Error>, extra: Partial<FixOptions> & { editor?: EditFn } = {}): Promise<Session> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => (out += `${t}\n`),
    err: (t) => (err += `${t}\n`),
    stdout: { isTTY: false } as NodeJS.WriteStream,
    stderr: { isTTY: false } as NodeJS.WriteStream,
  };
  let asked = 0;
  const edits: EditTarget[] = [];
  const ask = async (): Promise<Choice> => {
    const answer = answers[asked++];
    if (answer === undefined) throw new Error(`asked more often than scripted (${asked} times); output so far:\n${out}`);
    if (answer instanceof Error) throw answer;
    return answer;
  };
  const edit: EditFn = async (target) => {
    edits.push(target);
    if (!extra.editor) throw new Error('no editor scripted');
    return extra.editor(target);
  };
  const code = await fixCommand({ paths: ['lib'], cwd: p.dir, interactive: true, ask, edit, ...extra }, io);
  return { code, out, err, asked, edits };
}

const APP_FIXED = '{DynamicSupervisor, name: MyApp.Sessions, strategy: :one_for_one, max_children: 1000}';
const POOL_DS_FIXED = 'DynamicSupervisor.start_link(name: MyApp.Pool, strategy: :one_for_one, max_children: 1000)';
const POOL_TASK_FIXED = 'Task.Supervisor.start_link(name: MyApp.Tasks, max_children: 1000)';

/** The ExitPromptError @inquirer/prompts rejects with on Ctrl-C. */
function ctrlC(): Error {
  return Object.assign(new Error('User force closed the prompt with SIGINT'), { name: 'ExitPromptError' });
}

describe('choices', () => {
  it('yes and no, one change at a time, with title, reason and a numbered diff', async () => {
    const s = await session(['n', 'y', 'n'].map((k) => ({ y: 'yes', n: 'no' })[k] as Choice));
    expect(s.code).toBe(0);
    expect(s.asked).toBe(3);
    expect(p.file('lib/app.ex')).toBe(APP);
    expect(p.file('lib/pool.ex')).toContain(POOL_DS_FIXED);
    expect(p.file('lib/pool.ex')).not.toContain(POOL_TASK_FIXED);
    expect(s.out).toContain('Dynamic supervisor without max_children [supervisor-max-children, medium]  lib/app.ex:8:7');
    expect(s.out).toContain('DynamicSupervisor MyApp.Sessions can start children without bound');
    // Old and new line numbers beside the diff.
    expect(s.out).toMatch(/^ {3}8 {6}- {6}\{DynamicSupervisor, name: MyApp\.Sessions/m);
    expect(s.out).toMatch(/^ {8}8 \+ {6}\{DynamicSupervisor, name: MyApp\.Sessions.*max_children: 1000\}/m);
    expect(s.err).toContain('1 change applied in 1 file; 2 skipped; 2 findings left (`otpfix scan` lists them).');
  });

  it('all in this file: applies the rest of that file without asking', async () => {
    const s = await session(['no', 'file']);
    expect(s.asked).toBe(2);
    expect(p.file('lib/app.ex')).toBe(APP);
    expect(p.file('lib/pool.ex')).toContain(POOL_DS_FIXED);
    expect(p.file('lib/pool.ex')).toContain(POOL_TASK_FIXED);
    expect(s.err).toContain('2 changes applied in 1 file (1 by an "all" choice); 1 skipped; 1 finding left (`otpfix scan` lists them).');
  });

  it('all of this rule and all: apply every later change', async () => {
    for (const choice of ['rule', 'all'] as const) {
      for (const [rel, text] of Object.entries(FILES)) writeFileSync(p.path(rel), text);
      const s = await session([choice]);
      expect(s.asked).toBe(1);
      expect(p.file('lib/app.ex')).toContain(APP_FIXED);
      expect(p.file('lib/pool.ex')).toContain(POOL_TASK_FIXED);
      expect(s.err).toContain('3 changes applied in 2 files (2 by an "all" choice).');
    }
  });

  it('quit: writes what was accepted, leaves the rest untouched', async () => {
    const s = await session(['yes', 'quit']);
    expect(s.code).toBe(0);
    expect(p.file('lib/app.ex')).toContain(APP_FIXED);
    expect(p.file('lib/pool.ex')).toBe(POOL);
    expect(s.err).toContain('fixed lib/app.ex');
    expect(s.err).toMatch(/1 change applied in 1 file; \d+ findings? left \(`otpfix scan` lists them\); stopped at your request/);
  });

  it('explain: prints the full explanation and asks again about the same change', async () => {
    const s = await session(['explain', 'yes', 'quit']);
    expect(s.asked).toBe(3);
    expect(s.out).toContain('# supervisor-max-children: Dynamic supervisor without max_children');
    expect(s.out).toContain('## Options');
    expect(p.file('lib/app.ex')).toContain(APP_FIXED);
  });
});

describe('edit', () => {
  const to64 = (t: EditTarget) => ({ text: t.text.replace('max_children: 1000', 'max_children: 64') });

  it('opens the proposed result; a verified edit is shown and applied', async () => {
    const s = await session(['edit', 'yes', 'quit'], { editor: to64 });
    expect(s.edits).toHaveLength(1);
    expect(s.edits[0].relPath).toBe('lib/app.ex');
    expect(s.edits[0].text).toContain(APP_FIXED);
    expect(s.out).toContain('(edited by you)');
    expect(s.out).toMatch(/\+ {6}\{DynamicSupervisor, name: MyApp\.Sessions, strategy: :one_for_one, max_children: 64\}/);
    expect(p.file('lib/app.ex')).toContain('max_children: 64}');
    expect(s.err).toContain('1 change applied in 1 file (1 edited by you)');
  });

  it('an edit that does not parse is reported, the question asked again, and a new edit starts from it', async () => {
    let call = 0;
    const editor: EditFn = (t) => {
      call++;
      // First: drop the closing brace (syntax error). Second: repair the text that failed.
      if (call === 1) return { text: t.text.replace('max_children: 1000}', 'max_children: 1000') };
      return { text: t.text.replace('max_children: 1000\n', 'max_children: 32}\n') };
    };
    const s = await session(['edit', 'edit', 'yes', 'quit'], { editor });
    expect(s.out).toMatch(/Your edit failed verification: the edited text of lib\/app\.ex would not parse \(line \d+, column \d+\)/);
    expect(s.edits[1].text).toContain('max_children: 1000\n'); // the failed text, kept
    expect(p.file('lib/app.ex')).toContain('max_children: 32}');
    expect(s.err).toContain('1 edit failed verification (asked again)');
    expect(s.err).toContain('(1 edited by you)');
  });

  it('an edit that brings the flaw back fails the re-run of the rule; y then applies the proposal', async () => {
    // Another change (a comment), but the limit taken out again.
    const editor: EditFn = () => ({ text: APP.replace('    children = [', '    # sessions are cheap\n    children = [') });
    const s = await session(['edit', 'yes', 'quit'], { editor });
    expect(s.out).toContain('Your edit failed verification: after the edited text the rule still reports this finding');
    expect(p.file('lib/app.ex')).toContain(APP_FIXED);
    expect(s.err).not.toContain('edited by you');
  });

  it('an edit back to the original text changes nothing and is refused', async () => {
    const s = await session(['edit', 'no', 'quit'], { editor: () => ({ text: APP }) });
    expect(s.out).toContain('Your edit failed verification: the edited text changes nothing');
    expect(p.file('lib/app.ex')).toBe(APP);
  });

  it('an editor that fails is reported and nothing is used', async () => {
    const s = await session(['edit', 'no', 'quit'], { editor: () => ({ error: 'the editor "nano" exited with 1; the edit was discarded' }) });
    expect(s.out).toContain('edit of lib/app.ex not used: the editor "nano" exited with 1');
    expect(p.file('lib/app.ex')).toBe(APP);
  });

  it('keeps CRLF line endings when the editor saves LF', async () => {
    writeFileSync(p.path('lib/app.ex'), APP.replace(/\n/g, '\r\n'));
    const s = await session(['edit', 'yes', 'quit'], { editor: (t) => ({ text: to64(t).text.replace(/\r\n/g, '\n') }) });
    expect(s.code).toBe(0);
    const text = p.file('lib/app.ex');
    expect(text).toContain('max_children: 64}\r\n');
    expect(text.replace(/\r\n/g, '')).not.toContain('\n');
  });
});

describe('changes after an accept are recomputed', () => {
  it('each change is computed on the text as it is after the earlier accepted (and edited) ones', async () => {
    const prepared = await prepare({ paths: ['lib/pool.ex', 'lib/work.ex'], cwd: p.dir });
    const seen: Change[] = [];
    const result = await runFixSession(prepared.workspace, prepared.rules, {
      decide(change, _pending, ctx) {
        seen.push(change);
        if (seen.length > 1) return 'yes';
        // The first change is accepted in an edited form.
        const edited = ctx.verifyEdit(new Map([[change.files[0].path, change.files[0].after.replace('1000', '7')]]));
        if (!('files' in edited)) throw new Error(edited.reason);
        return { apply: edited };
      },
    });
    expect(seen).toHaveLength(2);
    expect(seen[1].files[0].before).toContain('strategy: :one_for_one, max_children: 7)');
    expect(result.workspace.files[0].text).toContain('max_children: 7)');
    expect(result.workspace.files[0].text).toContain(POOL_TASK_FIXED);
    expect(result.applied.map((c) => !!c.edited)).toEqual([true, false]);
  });
});

describe('interruption', () => {
  it('Ctrl-C at a prompt writes nothing, even after accepts, and exits 130', async () => {
    const s = await session(['yes', 'yes', ctrlC()]);
    expect(s.code).toBe(130);
    expect(p.file('lib/app.ex')).toBe(APP);
    expect(p.file('lib/pool.ex')).toBe(POOL);
    expect(s.err).toContain('Interrupted: nothing was written; every file is as it was. 2 accepted changes were discarded');
  });

  it('a signal while writing completes the file being written and leaves the rest untouched', async () => {
    const rename = (t: string) => t.replace(/MyApp\.Pool/g, 'MyApp.Z').replace(/MyApp\.Tasks/g, 'MyApp.ZTasks').replace('MyApp.Work', 'MyApp.ZWork');
    writeFileSync(p.path('lib/z.ex'), rename(POOL));
    writeFileSync(p.path('lib/z_work.ex'), rename(WORK));
    let writes = 0;
    const s = await session([], {
      yes: true,
      interactive: false,
      beforeWrite: () => {
        // Ctrl-C arrives while the second file is about to be written.
        if (++writes === 2) process.emit('SIGINT');
      },
    });
    expect(s.code).toBe(130);
    expect(p.file('lib/app.ex')).toContain(APP_FIXED);
    expect(p.file('lib/pool.ex')).toBe(POOL);
    expect(p.file('lib/z.ex')).not.toContain('max_children');
    expect(s.err).toContain('fixed lib/app.ex');
    expect(s.err).toContain('not written lib/pool.ex: interrupted before it was written; left untouched');
    expect(s.err).toContain('not written lib/z.ex: interrupted');
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('a file edited by someone else during the run is not overwritten (exit 3); the others are written', async () => {
    const s = await session([], {
      yes: true,
      interactive: false,
      beforeWrite: (outcome) => {
        if (outcome.relPath === 'lib/app.ex') writeFileSync(p.path('lib/app.ex'), `${APP}# edited meanwhile\n`);
      },
    });
    expect(s.code).toBe(3);
    expect(p.file('lib/app.ex')).toBe(`${APP}# edited meanwhile\n`);
    expect(p.file('lib/pool.ex')).toContain(POOL_TASK_FIXED);
    expect(s.err).toContain('not written lib/app.ex: ');
    expect(s.err).toContain('changed on disk during the run');
  });
});
