/**
 * Time values in code: which expressions read a clock (`System.monotonic_time(:millisecond)`,
 * `:os.system_time(:second)`, ...), in which unit, and what is derived from them: an expiry
 * (`now + ttl`), a window bucket (`div(now, @window_ms)`), or the read time itself. Values are
 * followed through variables and small helpers (`defp now, do: System.system_time(:millisecond)`).
 */
import type { SyntaxNode } from '../parse.js';
import { binaryOperator } from '../query.js';
import { literalAtom, normalizeCall, siteName, type CallSite, type Clause, type ModuleDef } from './module.js';
import type { ProjectIndex } from './project.js';
import { returnedBy, unparen, valueOrigins } from './values.js';

export type Clock = 'monotonic' | 'system' | 'os';
export type TimeUnit = 'second' | 'millisecond' | 'microsecond' | 'nanosecond' | 'native';

/** A window size (`@window_ms`, `60_000`, `:timer.minutes(1)`) and whether it is known statically. */
export interface Window {
  node: SyntaxNode;
  clause: Clause;
  /** The value when it is a compile-time integer. */
  value?: number;
  /** Set when the window is only known at run time (a variable from the state or options). */
  runtime?: string;
}

interface TimeBase {
  /** The clock read the value derives from. */
  clockNode: SyntaxNode;
  clockClause: Clause;
}

export type TimeValue =
  | (TimeBase & { kind: 'at' | 'expiry'; clock: Clock; unit: TimeUnit })
  | (TimeBase & { kind: 'bucket'; clock: Clock; unit: TimeUnit; window: Window })
  /**
   * A time a match spec cannot compare as a number (a DateTime, an Erlang timestamp tuple, a unit we
   * cannot read); `why` completes "the time x ...".
   */
  | (TimeBase & { kind: 'opaque'; why: string; deadline?: boolean });

const CLOCKS: Record<string, Clock> = {
  'System.monotonic_time': 'monotonic',
  'System.system_time': 'system',
  'System.os_time': 'os',
  ':erlang.monotonic_time': 'monotonic',
  ':erlang.system_time': 'system',
  ':os.system_time': 'os',
};

const OPAQUE_CLOCKS: Record<string, string> = {
  'DateTime.utc_now': 'a DateTime struct',
  'DateTime.now': 'a DateTime struct',
  'DateTime.now!': 'a DateTime struct',
  'NaiveDateTime.utc_now': 'a NaiveDateTime struct',
  'NaiveDateTime.local_now': 'a NaiveDateTime struct',
  ':os.timestamp': 'an Erlang {mega, sec, micro} timestamp',
  ':erlang.timestamp': 'an Erlang {mega, sec, micro} timestamp',
  ':erlang.now': 'an Erlang {mega, sec, micro} timestamp',
  ':calendar.universal_time': 'an Erlang calendar datetime',
  ':calendar.local_time': 'an Erlang calendar datetime',
};

const UNITS: Record<string, TimeUnit> = {
  second: 'second',
  seconds: 'second',
  millisecond: 'millisecond',
  milliseconds: 'millisecond',
  milli_seconds: 'millisecond',
  microsecond: 'microsecond',
  microseconds: 'microsecond',
  micro_seconds: 'microsecond',
  nanosecond: 'nanosecond',
  nanoseconds: 'nanosecond',
  nano_seconds: 'nanosecond',
  native: 'native',
};
const PARTS_PER_SECOND: Record<string, TimeUnit> = { '1': 'second', '1000': 'millisecond', '1000000': 'microsecond', '1000000000': 'nanosecond' };

export function timeUnit(node: SyntaxNode | undefined, mod: ModuleDef): TimeUnit | undefined {
  if (!node) return 'native';
  const atom = literalAtom(node, mod);
  if (atom !== undefined) return UNITS[atom];
  const n = constInt(node, mod);
  return n === undefined ? undefined : PARTS_PER_SECOND[String(n)];
}

/** The value of a compile-time integer expression: literals, `@attr`, `* + -`, `:timer.seconds/minutes/hours`. */
export function constInt(node: SyntaxNode | undefined, mod: ModuleDef, depth = 4): number | undefined {
  if (!node || depth <= 0) return undefined;
  const n = unparen(node);
  if (n.type === 'integer') {
    const text = n.text.replace(/_/g, '');
    return /^\d+$/.test(text) ? Number(text) : undefined;
  }
  if (n.type === 'unary_operator' && n.child(0)?.type === '@') {
    const attr = n.childForFieldName('operand');
    return attr?.type === 'identifier' ? constInt(mod.attributes.get(attr.text), mod, depth - 1) : undefined;
  }
  const op = binaryOperator(n);
  if (op === '*' || op === '+' || op === '-') {
    const a = constInt(n.childForFieldName('left') ?? undefined, mod, depth - 1);
    const b = constInt(n.childForFieldName('right') ?? undefined, mod, depth - 1);
    if (a === undefined || b === undefined) return undefined;
    return op === '*' ? a * b : op === '+' ? a + b : a - b;
  }
  if (n.type === 'call') {
    const site = normalizeCall(n, mod);
    const factor = site && { ':timer.seconds': 1000, ':timer.minutes': 60_000, ':timer.hours': 3_600_000 }[siteName(site)];
    if (factor && site.arity === 1) {
      const v = constInt(site.args[0], mod, depth - 1);
      return v === undefined ? undefined : v * factor;
    }
  }
  return undefined;
}

/** The clock read by a call (`System.monotonic_time(:millisecond)` → monotonic, millisecond). */
function clockRead(site: CallSite, clause: Clause): TimeValue | undefined {
  const name = siteName(site);
  const base = { clockNode: site.node, clockClause: clause };
  const opaque = OPAQUE_CLOCKS[name];
  if (opaque) return { ...base, kind: 'opaque', why: `is ${opaque}, which a match spec cannot compare by time` };
  const clock = CLOCKS[name];
  if (!clock || site.arity > 1) return undefined;
  const unit = timeUnit(site.args[0], clause.fn.module);
  if (!unit) return { ...base, kind: 'opaque', why: `is read in the unit \`${site.args[0]!.text}\`, which is not a literal` };
  return { ...base, kind: 'at', clock, unit };
}

/** A call site for `node` as the model normalized it (pipes included), or normalized now. */
function siteFor(node: SyntaxNode, clause: Clause): CallSite | undefined {
  return clause.calls.find((s) => s.node.id === node.id) ?? normalizeCall(node, clause.fn.module);
}

/** Same time, for comparing the values several writes or callers produce. */
export function timeSignature(t: TimeValue): string {
  if (t.kind === 'opaque') return `opaque:${t.why}`;
  const window = t.kind === 'bucket' ? `:${t.window.value ?? t.window.node.text}` : '';
  return `${t.kind}:${t.clock}:${t.unit}${window}`;
}

/** What time `node` holds, if it derives from a clock read. */
export function timeValue(node: SyntaxNode, clause: Clause, project?: ProjectIndex, depth = 6): TimeValue | undefined {
  if (depth <= 0) return undefined;
  const n = unparen(node);
  const op = binaryOperator(n);
  if (n.type === 'identifier') {
    if (n.text.startsWith('_')) return undefined;
    const origins = valueOrigins(n.text, clause, n.startIndex, project);
    if (!origins?.length) return undefined;
    const values = origins.map((o) => timeValue(o.node, o.clause, project, depth - 1));
    if (values.some((v) => !v)) return undefined;
    const sig = timeSignature(values[0]!);
    return values.every((v) => timeSignature(v!) === sig) ? values[0] : undefined;
  }
  if (op === '|>') {
    const right = n.childForFieldName('right');
    return right?.type === 'call' ? callTime(right, clause, project, depth) : undefined;
  }
  if (op === '+' || op === '-') {
    const left = timeValue(n.childForFieldName('left')!, clause, project, depth - 1);
    const right = timeValue(n.childForFieldName('right')!, clause, project, depth - 1);
    // now + ttl: a deadline; now - skew: still a point in time. Two times (t2 - t1) are a duration.
    if (left && right) return undefined;
    const t = left ?? (op === '+' ? right : undefined);
    if (!t || t.kind === 'bucket') return undefined;
    if (t.kind === 'opaque') return op === '+' ? { ...t, deadline: true } : t;
    return op === '+' ? { ...t, kind: 'expiry' } : t;
  }
  if (n.type === 'call') return callTime(n, clause, project, depth);
  return undefined;
}

function callTime(node: SyntaxNode, clause: Clause, project: ProjectIndex | undefined, depth: number): TimeValue | undefined {
  const site = siteFor(node, clause);
  if (!site || site.capture || site.dynamic) return undefined;
  const clock = clockRead(site, clause);
  if (clock) return clock;
  const name = siteName(site);
  if ((name === 'div' || name === 'Kernel.div' || name === 'Integer.floor_div') && site.arity === 2) {
    const t = timeValue(site.args[0], clause, project, depth - 1);
    if (!t || t.kind === 'opaque') return t;
    if (t.kind !== 'at') return undefined;
    return { ...t, kind: 'bucket', window: windowOf(site.args[1], clause, project) };
  }
  if (name === 'DateTime.to_unix' && site.arity >= 1) {
    const t = timeValue(site.args[0], clause, project, depth - 1);
    if (t?.kind !== 'opaque') return undefined;
    const unit = timeUnit(site.args[1] ?? undefined, clause.fn.module);
    const realUnit = site.args[1] ? unit : 'second';
    if (!realUnit || realUnit === 'native') return undefined;
    return { clockNode: t.clockNode, clockClause: t.clockClause, kind: 'at', clock: 'system', unit: realUnit };
  }
  if (/^(Naive)?DateTime\.(add|shift|truncate)$/.test(name) && site.arity >= 1) {
    const t = timeValue(site.args[0], clause, project, depth - 1);
    return t?.kind === 'opaque' ? { ...t, deadline: t.deadline || name.endsWith('add') || name.endsWith('shift') } : undefined;
  }
  // A helper such as `defp now, do: System.monotonic_time(:millisecond)` or `expiry(ttl)`.
  const returned = returnedBy(node, clause, project);
  if (!returned?.length) return undefined;
  const values = returned.map((o) => timeValue(o.node, o.clause, project, depth - 1));
  if (values.some((v) => !v)) return undefined;
  return values.every((v) => timeSignature(v!) === timeSignature(values[0]!)) ? values[0] : undefined;
}

function windowOf(node: SyntaxNode, clause: Clause, project: ProjectIndex | undefined, depth = 3): Window {
  const n = unparen(node);
  const value = constInt(n, clause.fn.module);
  if (value !== undefined) return { node: n, clause, value };
  if (n.type === 'unary_operator' && n.child(0)?.type === '@') return { node: n, clause }; // compile-time attribute
  if (n.type === 'identifier' && depth > 0) {
    const origins = valueOrigins(n.text, clause, n.startIndex, project);
    if (origins?.length === 1) return windowOf(origins[0].node, origins[0].clause, project, depth - 1);
    if (origins && origins.length > 1) {
      const windows = origins.map((o) => windowOf(o.node, o.clause, project, depth - 1));
      if (windows.every((w) => w.value !== undefined && w.value === windows[0].value)) return windows[0];
    }
  }
  return { node: n, clause, runtime: `the window \`${node.text}\` is only known at run time` };
}
