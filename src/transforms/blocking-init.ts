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
import { localTarget, siteName, type Clause, type FileModel, type FunctionDef, type ModuleDef } from '../core/model/module.js';
import type { ProjectIndex } from '../core/model/project.js';
import { isRaise, tailsOf, tupleItems, tupleTag } from '../core/model/returns.js';
import { freeVariables, boundVariables, patternVariables } from '../core/model/vars.js';
import type { SyntaxNode } from '../core/parse.js';
import { binaryOperator, callIdentifier, codeChildren, descendants, indentAt, lineStart } from '../core/query.js';
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
  risks:
    'A crash of the moved work (a failed match on its result, a helper that raises) no longer fails start_link: the process starts, crashes in handle_continue/2 and is restarted by its supervisor. Check that no caller relies on start_link failing when that work fails, and that code run between start_link returning and the work finishing (sibling children, the caller of start_link) only sends messages to the process (they queue) rather than reading what the work sets up (files, tables, other processes).',
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

**What stays in init/1.** Everything before the first wait (option checks, \`Keyword.fetch!\`,
\`Process.flag(:trap_exit, true)\`) stays, so bad options still make \`start_link\` return
\`{:error, reason}\`. The fix is refused, and the message says why, when the code after the wait
decides whether start succeeds: a \`{:stop, reason}\` or \`:ignore\` return, a \`raise\`/\`exit\`/\`throw\`,
a \`with\` without \`else\` whose unmatched value becomes init/1's return (a fail-fast boot: the store
is down, the protocol is wrong); when it registers or subscribes the process (\`Registry.register\`,
\`:global\`, \`PubSub.subscribe\`, a named ETS table, \`:persistent_term\`), which others could look
for as soon as \`start_link\` returns; or when the state until the work is done would be a \`nil\`
placeholder that \`terminate/2\` or \`format_status\` reads.

**What changes (review it):** a crash of the moved work itself (a \`{:ok, conn} = connect(...)\`
that does not match, a helper that raises) no longer makes \`start_link\` return \`{:error, reason}\`;
the process starts, then crashes in \`handle_continue/2\` and its supervisor restarts it (within its
restart intensity). If nothing may be served before the work is done, this is still what you want:
callers queue until it finishes. The fix carries the variables the moved code needs in the continue
term; when the final state is built fresh from the slow results, \`init/1\` returns \`nil\` as a
placeholder that no callback reads (only \`terminate/2\` could see it, and the fix is refused when it
reads its state).

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
  const decides = startDecision(mod, clause, moved, tails.nodes, calls.map((c) => c.entry));
  if (decides) return decides;
  const tailEdits: Plan['tailEdits'] = [];
  const okStates: SyntaxNode[] = [];
  for (const tail of tails.nodes) {
    if (isRaise(tail)) continue;
    const tag = tupleTag(tail);
    const items = tupleItems(tail);
    if (tag === 'ok' && items && items.length >= 2 && items.length <= 3) {
      tailEdits.push(retuple(file, tail, [':noreply', ...items.slice(1).map((i) => i.text)], clause.oneLiner));
      okStates.push(items[1]);
    } else if (tail.type === 'atom' && tail.text === ':ignore') return 'init/1 returns :ignore on a path that would run after start';
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
    stateParam = `_${name}`;
  }
  if (initState === 'nil') {
    const reader = nilStateReader(mod);
    if (reader)
      return `${reader} reads the state, and until handle_continue/2 has built it the state would be a placeholder \`nil\` (${reader} gets it if the moved work crashes). By hand: give init/1 a real initial state (the fields the work fills set to nil or empty) and let handle_continue/2 update it`;
  }
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

const FAILING = new Set(['raise', 'reraise', 'exit', 'throw']);

/**
 * Calls that make the process findable or subscribed (a name, a named table, a topic, a handler):
 * in handle_continue/2 they would happen after start_link returns, so for a while others would not
 * find the process, its table, or would publish to a topic it has not joined yet.
 */
const PUBLISHING =
  /^(Registry\.register|:global\.(register_name|re_register_name)|Process\.register|:erlang\.register|:pg2?\.join|[\w.]*PubSub\.subscribe|:persistent_term\.put|Application\.put_env|:telemetry\.attach(_many)?|:syn\.(register|join)|:net_kernel\.monitor_nodes)$/;

const BY_HAND =
  'By hand: keep in init/1 what decides whether start succeeds (option checks, registration) and move only the waiting to handle_continue/2; if the boot must fail when the waiting work fails, leave it in init/1 and bound it with a timeout';

/**
 * Why the moved code cannot leave init/1: it decides whether start succeeds (a `{:stop, _}`, a raise,
 * a `with` whose unmatched value becomes init/1's return), or it publishes the process (a name, a
 * named table, a subscription) that others may look for as soon as start_link returns.
 */
function startDecision(mod: ModuleDef, clause: Clause, moved: SyntaxNode[], tails: SyntaxNode[], waits: SyntaxNode[]): string | undefined {
  const line = (n: SyntaxNode) => n.startPosition.row + 1;
  const failFast = (what: string) =>
    `${what}: whether start succeeds depends on the work after the wait (a fail-fast start). Moved to handle_continue/2, start_link would return {:ok, pid} and the process stop later, so bad options or a failed dependency would no longer fail the start its supervisor and the boot see. ${BY_HAND}`;
  for (const tail of tails) {
    if (tupleTag(tail) === 'stop') return failFast(`init/1 returns \`${tail.text.split('\n')[0].slice(0, 40)}\` at line ${line(tail)}`);
    const open = openWith(tail, moved);
    if (open) return failFast(`the \`with\` at line ${line(open)} has no \`else\`, so a value it does not match becomes init/1's return (a failed start)`);
  }
  for (const stmt of moved)
    for (const node of descendants(stmt, ['call']))
      if (FAILING.has(callIdentifier(node) ?? '')) return failFast(`init/1 calls \`${callIdentifier(node)}\` at line ${line(node)}`);
  // A bang call on what init/1 was given (`Keyword.fetch!(opts, :max)`) checks an option; after the
  // wait it would no longer fail the start. Calls using what the moved code computed are left alone.
  const computed = boundVariables(moved);
  for (const stmt of moved)
    for (const node of descendants(stmt, ['call'])) {
      const target = node.childForFieldName('target');
      const name = target?.type === 'dot' ? target.childForFieldName('right')?.text : target?.text;
      if (!name?.endsWith('!') || waits.some((w) => w.startIndex <= node.startIndex && node.endIndex <= w.endIndex || (node.startIndex <= w.startIndex && w.endIndex <= node.endIndex))) continue;
      const used = [...descendants(node, ['identifier'])].map((i) => i.text);
      if (used.some((v) => computed.has(v))) continue;
      return failFast(`\`${node.text.split('\n')[0].slice(0, 50)}\` at line ${line(node)} checks what init/1 was given, after the wait`);
    }
  const from = moved[0].startIndex;
  const to = moved[moved.length - 1].endIndex;
  const pub = publishing(mod, clause.calls.filter((s) => s.node.startIndex >= from && s.node.endIndex <= to), new Set(), 0);
  if (pub)
    return `${pub} after the wait makes the process findable or subscribed; in handle_continue/2 it would happen after start_link returns, so others could miss the process or what it subscribes to. ${BY_HAND}`;
  return undefined;
}

/** The `with` without `else` (inside the moved code) whose body holds this tail: its unmatched value is returned too. */
function openWith(tail: SyntaxNode, moved: SyntaxNode[]): SyntaxNode | undefined {
  for (let node: SyntaxNode | null = tail.parent; node; node = node.parent) {
    if (callIdentifier(node) === 'with') {
      const block = node.namedChildren.find((c) => c.type === 'do_block');
      const hasElse = block ? block.namedChildren.some((c) => c.type === 'else_block') : /\belse:/.test(node.text);
      if (!hasElse) return node;
    }
    if (moved.some((m) => m.id === node!.id)) break;
  }
  return undefined;
}

function publishing(mod: ModuleDef, sites: Clause['calls'], seen: Set<FunctionDef>, depth: number): string | undefined {
  for (const site of sites) {
    if (site.capture || site.spawned) continue;
    const name = siteName(site);
    const at = `\`${name}\` at line ${site.node.startPosition.row + 1}`;
    if (PUBLISHING.test(name)) return at;
    if (name === ':ets.new' && /named_table/.test(site.args[1]?.text ?? '')) return `${at} (a named table)`;
    const callee = depth < 3 ? localTarget(site, mod) : undefined;
    if (!callee || seen.has(callee)) continue;
    seen.add(callee);
    const inner = publishing(mod, callee.clauses.flatMap((c) => c.calls), seen, depth + 1);
    if (inner) return `${inner} (in ${callee.name}/${callee.arity})`;
  }
  return undefined;
}

/** A callback other than handle_continue/2 that can receive the interim state and reads it. */
function nilStateReader(mod: ModuleDef): string | undefined {
  for (const [key, index] of [['terminate/2', 1], ['format_status/2', 1], ['format_status/1', 0]] as const) {
    const fn = mod.functions.get(key);
    if (fn?.clauses.some((c) => c.params[index] && !/^_\w*$/.test(c.params[index].text))) return key;
  }
  return undefined;
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
