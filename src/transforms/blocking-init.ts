import { finding, fnLabel } from '../core/findings.js';
import {
  BLOCKING_CALLS,
  blockingCallsIn,
  describeBlocking,
  describeWait,
  isExitWait,
  isHandshake,
  normalFirst,
  patternsFrom,
  rarePathNote,
  validatePatterns,
  type BlockingCall,
  type BlockingPattern,
} from '../core/model/blocking.js';
import type { Clause, FileModel, FunctionDef, ModuleDef } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import { isRaise, tailsOf, tupleItems, tupleTag } from '../core/model/returns.js';
import { freeVariables, boundVariables, patternVariables } from '../core/model/vars.js';
import type { SyntaxNode } from '../core/parse.js';
import { binaryOperator, codeChildren, indentAt, lineStart } from '../core/query.js';
import {
  INDENT,
  LINE_LENGTH,
  bodyStatements,
  breakLongOneLiner,
  clauseText,
  displayWidth,
  memberIndent,
  newClausePlacement,
} from '../core/rewrite.js';
import { applyEdits } from '../core/edit.js';
import type { Edit, Finding, Transform } from '../core/types.js';

interface Options {
  calls: string[];
}

/** Reading a config or state file at start is ordinary; file I/O is left out of the default list. */
const DEFAULT_CALLS = BLOCKING_CALLS.filter((p) => p.category !== 'file').map((p) => p.pattern);

interface Plan {
  mod: ModuleDef;
  clause: Clause;
  /** First statement to move (with its attached comments from `moveStart`). */
  moveStart: number;
  moveEnd: number;
  /** The moved statements (the last one is the body's value). */
  moved: SyntaxNode[];
  /** Edits inside the moved text, in file offsets: `{:ok, s}` → `{:noreply, s}`, `{:stop, r}` → `{:stop, r, s}`. */
  tailEdits: Array<{ start: number; end: number; text: string }>;
  initState: string;
  stateParam: string;
  carried: string[];
}

const rule: Transform<Options> = {
  id: 'blocking-init',
  title: 'Blocking work in init/1',
  severity: 'medium',
  seedRef: '5.2',
  fixSafety: 'review',
  options: {
    calls: {
      type: 'string[]',
      default: DEFAULT_CALLS,
      description:
        'Calls that wait ("Module.function", `*` matches anything). `receive` without `after 0` always counts. File I/O is left out by default: reading a config file at start is normal; add "File.read" and friends to include it.',
      validate: validatePatterns,
    },
  },
  explanation: `
\`GenServer.start_link/3\` does not return until \`init/1\` has returned. A supervisor starts its children
one after the other, so an \`init/1\` that connects to a remote service, retries with sleeps, queries the
database or calls another GenServer holds up its caller, every sibling started after it, and the
application's boot. If the remote end hangs, boot hangs (start_link's timeout is \`:infinity\` by default).

Return at once with \`{:ok, state, {:continue, term}}\` and do the slow part in \`handle_continue/2\`.
The continuation runs in the new process right after \`init/1\`, **before any message** in its mailbox,
so no call ever sees the half-initialised state.

**What changes (review it):** a failure in the moved work no longer makes \`start_link\` return
\`{:error, reason}\`; the process starts, then crashes or stops in \`handle_continue/2\` and its
supervisor restarts it (within its restart intensity). \`{:stop, reason}\` becomes
\`{:stop, reason, state}\`. If nothing may be served before the work is done, this is still what you
want: callers queue until it finishes. The fix carries the variables the moved code needs in the
continue term; when the final state is built fresh from the slow results, \`init/1\` returns \`nil\`
as a placeholder that only \`terminate/2\` could ever see.

Before:
\`\`\`elixir
def init(opts) do
  {:ok, conn} = connect_with_retry(opts[:url], 5)
  {:ok, %{conn: conn}}
end
\`\`\`
After:
\`\`\`elixir
def init(opts) do
  {:ok, nil, {:continue, {:finish_init, opts}}}
end

def handle_continue({:finish_init, opts}, _state) do
  {:ok, conn} = connect_with_retry(opts[:url], 5)
  {:noreply, %{conn: conn}}
end
\`\`\`
`,

  detect({ file, project, options }) {
    const patterns = patternsFrom(options.calls);
    const out: Finding[] = [];
    for (const mod of file.modules) {
      if (!mod.kinds.has('genserver') && !mod.kinds.has('gen_stage')) continue;
      const init = mod.functions.get('init/1');
      if (!init?.isCallback) continue;
      init.clauses.forEach((clause, index) => {
        const all = blockingCallsIn(init, { clause, patterns, project });
        // Waiting for a process it stopped to go down is shutdown, not slow work.
        const found = all.filter((c) => !isExitWait(c));
        if (!found.length || bootStep(clause)) return;
        const plan = planFor(file, mod, init, clause, all);
        const { calls, rare } = normalFirst(found);
        const onlySync = calls.every((c) => c.category === 'sync-call' || isHandshake(c));
        out.push(
          finding(rule, file.path, {
            node: calls[0].entry,
            key: `${fnLabel(init)}#${index}`,
            fixable: typeof plan !== 'string',
            severity: onlySync || rare ? 'low' : undefined,
            message: message(init, calls, plan, onlySync) + (rare ? rarePathNote(calls) : ''),
            data: plan,
          }),
        );
      });
    }
    out.push(...injectedStarts(file, patterns, project));
    return out;
  },

  fix(f, { file }) {
    const plan = f.data as Plan | string;
    if (typeof plan === 'string') return { skip: plan };
    return edits(file, plan);
  },
};

export default rule;

function message(init: FunctionDef, calls: BlockingCall[], plan: Plan | string, onlySync: boolean): string {
  const first = calls[0];
  const more = calls.length > 1 ? ` and ${calls.length - 1} more wait${calls.length > 2 ? 's' : ''} (${calls.slice(1, 4).map((c) => `${describeBlocking(c)} at line ${c.entry.startPosition.row + 1}`).join(', ')})` : '';
  let text = `${fnLabel(init)} waits on ${describeWait(first)}${more}. start_link does not return until init/1 does, so the supervisor starting ${init.module.name} and every child after it wait too.`;
  if (onlySync) text += ' These are calls to other processes: usually quick, but if one of them is slow, not started yet, or waiting on this process, boot stalls or deadlocks.';
  text += typeof plan === 'string' ? ` Not rewritten: ${plan}.` : ' Fix: return {:continue, ...} and do this work in handle_continue/2.';
  return text;
}

/** An init/1 that only ever returns `:ignore` is a synchronous boot step: waiting is its job. */
function bootStep(clause: Clause): boolean {
  const tails = tailsOf(bodyStatements(clause));
  return tails.nodes.length > 0 && tails.nodes.every((t) => (t.type === 'atom' && t.text === ':ignore') || isRaise(t));
}

/** `state`, `%{state | a: 1}`, `%S{state | a: 1}`, `Map.put(state, ...)`, `state |> ...` → `state`. */
function stateBase(node: SyntaxNode): string | undefined {
  if (node.type === 'identifier') return node.text;
  if (node.type === 'map') {
    const content = codeChildren(node).find((c) => c.type === 'map_content');
    const update = content && codeChildren(content)[0];
    if (update && binaryOperator(update) === '|') return stateBase(update.childForFieldName('left')!);
    return undefined;
  }
  const op = binaryOperator(node);
  if (op === '|>') return stateBase(node.childForFieldName('left')!);
  if (node.type === 'call') {
    const target = node.childForFieldName('target')?.text;
    const first = codeChildren(node.namedChildren.find((c) => c.type === 'arguments') ?? node)[0];
    if (first && target && /^(Map\.(put|put_new|merge|update|update!|replace!|delete|drop)|struct!?|put_in|update_in)$/.test(target)) {
      if (first.type === 'call' && first.childForFieldName('target')?.type === 'dot' && !first.namedChildren.some((c) => c.type === 'arguments'))
        return stateBase(first.childForFieldName('target')!.childForFieldName('left')!);
      return stateBase(first);
    }
  }
  return undefined;
}

function planFor(file: FileModel, mod: ModuleDef, init: FunctionDef, clause: Clause, calls: BlockingCall[]): Plan | string {
  const stmts = bodyStatements(clause);
  const k = stmts.findIndex((s) => calls.some((c) => c.entry.startIndex >= s.startIndex && c.entry.endIndex <= s.endIndex));
  if (k < 0) return 'the waiting call is not in a statement of init/1 that can be moved';
  if (clause.oneLiner && clause.body!.startPosition.row !== clause.body!.endPosition.row)
    return 'init/1 is a multi-line `do:` one-liner';
  const moved = stmts.slice(k);
  const prefix = stmts.slice(0, k);

  const tails = tailsOf(moved);
  if (!tails.complete) return 'some path through init/1 returns a value this rule cannot see (an `if` without `else`)';
  const tailEdits: Plan['tailEdits'] = [];
  const okStates: SyntaxNode[] = [];
  const stops: SyntaxNode[] = [];
  for (const tail of tails.nodes) {
    if (isRaise(tail)) continue;
    const tag = tupleTag(tail);
    const items = tupleItems(tail);
    if (tag === 'ok' && items && items.length >= 2 && items.length <= 3) {
      tailEdits.push(retuple(file, tail, [':noreply', ...items.slice(1).map((i) => i.text)], clause.oneLiner));
      okStates.push(items[1]);
    } else if (tag === 'stop' && items?.length === 2) stops.push(tail);
    else if (tail.type === 'atom' && tail.text === ':ignore') return 'init/1 returns :ignore on a path that would run after start';
    else return `init/1 returns \`${tail.text.split('\n')[0].slice(0, 40)}\`, which this rule cannot turn into a handle_continue/2 return`;
  }
  if (!okStates.length) return 'no path through the moved code returns {:ok, state}';

  const outer = new Set([...clause.params.flatMap((p) => [...patternVariables(p)]), ...boundVariables(prefix)]);
  const free = freeVariables(moved);
  const bases = new Set(okStates.map(stateBase));
  const base = bases.size === 1 ? [...bases][0] : undefined;
  let initState = 'nil';
  let stateParam: string;
  if (base && outer.has(base) && free.has(base)) {
    initState = base;
    stateParam = base;
  } else {
    const taken = new Set([...free, ...boundVariables(moved), ...outer]);
    const name = ['state', 'init_state', 'pending_state'].find((n) => !taken.has(n) && !taken.has(`_${n}`));
    if (!name) return 'no free name for the state parameter';
    stateParam = stops.length ? name : `_${name}`;
  }
  for (const stop of stops) tailEdits.push(retuple(file, stop, [...tupleItems(stop)!.map((i) => i.text), stateParam], clause.oneLiner));
  const carried = [...free].filter((v) => outer.has(v) && v !== stateParam);
  let moveStart = clause.oneLiner ? moved[0].startIndex : lineStart(file.text, moved[0].startIndex);
  if (!clause.oneLiner)
    for (let prev = moved[0].previousSibling; prev?.type === 'comment'; prev = prev.previousSibling) {
      const gap = file.text.slice(prev.endIndex, moveStart);
      if (/\n\s*\n/.test(gap) || prev.startPosition.row === (prev.previousSibling?.endPosition.row ?? -1)) break;
      moveStart = lineStart(file.text, prev.startIndex);
    }
  return { mod, clause, moveStart, moveEnd: moved[moved.length - 1].endIndex, moved, tailEdits, initState, stateParam, carried };
}

/**
 * A tuple rewritten with new elements, laid out as `mix format` lays out a tuple that does not fit:
 * elements fill each line, continuation lines start one column right of the `{`.
 */
function retuple(file: FileModel, tuple: SyntaxNode, elements: string[], movedLine: boolean): Plan['tailEdits'][number] {
  const flat = `{${elements.join(', ')}}`;
  const edit = { start: tuple.startIndex, end: tuple.endIndex, text: flat };
  if (movedLine || tuple.text.includes('\n') || elements.some((e) => e.includes('\n'))) return edit;
  const start = lineStart(file.text, tuple.startIndex);
  const prefix = file.text.slice(start, tuple.startIndex);
  const eol = file.text.indexOf('\n', tuple.endIndex);
  const suffix = file.text.slice(tuple.endIndex, eol < 0 ? file.text.length : eol);
  if (displayWidth(prefix + flat + suffix) <= LINE_LENGTH) return edit;
  const pad = ' '.repeat(displayWidth(prefix) + 1);
  const lines: string[] = [];
  let line = `${prefix}{${elements[0]}`;
  elements.slice(1).forEach((e, i) => {
    const last = i === elements.length - 2;
    if (displayWidth(`${line}, ${e}${last ? `}${suffix}` : ','}`) <= LINE_LENGTH) line += `, ${e}`;
    else {
      lines.push(`${line},`);
      line = pad + e;
    }
  });
  lines.push(`${line}}`);
  return { ...edit, text: lines.join('\n').slice(prefix.length) };
}

function uniqueTag(file: FileModel): string {
  for (let i = 1; ; i++) {
    const tag = i === 1 ? 'finish_init' : `finish_init_${i}`;
    if (!new RegExp(`:${tag}\\b`).test(file.text)) return tag;
  }
}

function edits(file: FileModel, plan: Plan): { edits: Edit[] } | { skip: string } {
  const { mod, clause } = plan;
  const tag = uniqueTag(file);
  const term = plan.carried.length ? `{:${tag}, ${plan.carried.join(', ')}}` : `:${tag}`;
  const initReturn = `{:ok, ${plan.initState}, {:continue, ${term}}}`;

  // The moved code, with its tails rewritten, at the body indentation of a module member.
  const bodyIndent = memberIndent(file, mod) + INDENT;
  let moved = applyEdits(
    file.text.slice(plan.moveStart, plan.moveEnd),
    plan.tailEdits.map((e) => ({ file: file.path, start: e.start - plan.moveStart, end: e.end - plan.moveStart, text: e.text })),
  );
  if (clause.oneLiner) moved = bodyIndent + moved;
  const indent = memberIndent(file, mod);
  const body = moved
    .split('\n')
    .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
    .join('\n');
  const code = `def handle_continue(${term}, ${plan.stateParam}) do\n${body}\nend`;
  const placement = newClausePlacement(file, mod, 'handle_continue/2', clause.fn);
  const text = clauseText(code, indent, placement, mod.usesImpl);
  const tooLong = text.split('\n').find((l) => displayWidth(l) > LINE_LENGTH);
  if (tooLong) return { skip: `a rewritten line would exceed ${LINE_LENGTH} columns and need re-layout: ${tooLong.trim().slice(0, 60)}` };

  const out: Edit[] = [{ file: file.path, start: placement.offset, end: placement.offset, text }];
  if (clause.oneLiner) {
    const body = clause.body!;
    out.push({ file: file.path, start: body.startIndex, end: body.endIndex, text: initReturn });
    const relayout = breakLongOneLiner(file, clause, body.startIndex, initReturn.length - (body.endIndex - body.startIndex));
    if (relayout) out.push(relayout);
  } else {
    const replacement = `${indentAt(file.text, plan.moved[0].startIndex)}${initReturn}`;
    if (displayWidth(replacement) > LINE_LENGTH) return { skip: 'the new init/1 return would exceed the line length' };
    out.push({ file: file.path, start: plan.moveStart, end: plan.moveEnd, text: replacement });
  }
  return { edits: out };
}

/**
 * Start hooks in code a `__using__` macro injects: `init/1` of an injected GenServer, and `mount/2`,
 * which agent frameworks call from their server's `init/1`. Detect only: the code lives in a quote.
 */
function injectedStarts(file: FileModel, patterns: BlockingPattern[], project: ProjectIndex): Finding[] {
  const out: Finding[] = [];
  for (const mod of file.injected ?? []) {
    const starts = [mod.kinds.has('genserver') ? mod.functions.get('init/1') : undefined, mod.functions.get('mount/2')];
    for (const fn of starts) {
      if (!fn || fn.kind !== 'def') continue;
      fn.clauses.forEach((clause, index) => {
        const mount = mod.functions.get('mount/2');
        // One finding per root cause: init/1 waiting through mount/2 is mount's finding.
        const found = blockingCallsIn(fn, { clause, patterns, project }).filter((c) => !isExitWait(c) && !(fn !== mount && mount && c.chain.includes(mount)));
        if (!found.length || bootStep(clause)) return;
        const { calls, rare } = normalFirst(found);
        const hook = fn.name === 'mount' ? 'mount/2 runs while the process starts (the framework calls it from init/1)' : 'init/1 runs while the process starts';
        out.push(
          finding(rule, file.path, {
            node: calls[0].entry,
            key: `${fnLabel(fn)}#${index}`,
            fixable: false,
            severity: rare || calls.every((c) => c.category === 'sync-call' || isHandshake(c)) ? 'low' : undefined,
            message:
              `${fn.name}/${fn.arity}, injected by ${mod.parent!.name}.__using__ into every module that uses it, waits on ${describeWait(calls[0])}. ` +
              `${hook}, so start_link, the supervisor starting it and every sibling after it wait too.` +
              (rare ? rarePathNote(calls) : '') +
              ' Not rewritten automatically: the code is in a quote; move the slow part to handle_continue/2 (or a supervised task) by hand.',
          }),
        );
      });
    }
  }
  return out;
}
