/**
 * A tree-sitter tree as plain data, read in ONE TreeCursor walk right after parsing; the native tree
 * is then dropped. The data (`SyntaxData`) is a few typed arrays per file, in pre-order: cheap to
 * hold, to send from a worker thread without copying, and to cache on disk. `SyntaxNode` objects
 * are made on demand over it and offer the part of tree-sitter's SyntaxNode API the model and the
 * rules use, so they run unchanged, but every property read is an array read instead of a call
 * across the JS–native boundary (which cost more than parsing itself).
 *
 * Offsets are UTF-16 indices, as node tree-sitter reports them; rows and columns are computed from
 * the text (a column counts UTF-16 code units from the start of the line, as node tree-sitter's do).
 */
import type Parser from 'tree-sitter';

export interface Point {
  row: number;
  column: number;
}

/** The symbol and field names the numbers in `SyntaxData` stand for (one grammar per process). */
export interface SymbolNames {
  types: Array<string | undefined>;
  fields: Array<string | undefined>;
}

/**
 * One file's tree as arrays indexed by pre-order node number (0 is the root). Cached on disk: bump
 * FORMAT in syntax-cache.ts when what these arrays hold changes.
 */
export interface SyntaxData {
  count: number;
  /** Symbol id of each node (see SymbolNames.types). */
  types: Uint16Array;
  starts: Uint32Array;
  ends: Uint32Array;
  /** Field id each node fills in its parent; 0 for none. */
  fields: Uint16Array;
  /** Parent's number; -1 for the root. */
  parents: Int32Array;
  /** NAMED | MISSING | HAS_ERROR. */
  flags: Uint8Array;
}

const NAMED = 1;
const MISSING = 2;
const HAS_ERROR = 4;

const NAMES: SymbolNames = { types: [], fields: [] };

/** Bumped whenever a name is learnt, so lookups by name made earlier are redone. */
let namesVersion = 0;
function learnt(table: Array<string | undefined>, id: number, name: string): void {
  table[id] = name;
  namesVersion++;
}

/** Symbol names learnt by this thread, to send with data made here. */
export function symbolNames(): SymbolNames {
  return NAMES;
}

/** Learn the names another thread (or a cache entry) used. */
export function learnSymbolNames(names: SymbolNames): void {
  names.types.forEach((t, i) => t !== undefined && NAMES.types[i] === undefined && learnt(NAMES.types, i, t));
  names.fields.forEach((f, i) => f !== undefined && NAMES.fields[i] === undefined && learnt(NAMES.fields, i, f));
}

/** Copy a native tree into arrays in one cursor walk. */
export function readSyntax(native: Parser.Tree): SyntaxData {
  const count = native.rootNode.descendantCount;
  const data: SyntaxData = {
    count,
    types: new Uint16Array(count),
    starts: new Uint32Array(count),
    ends: new Uint32Array(count),
    fields: new Uint16Array(count),
    parents: new Int32Array(count),
    flags: new Uint8Array(count),
  };
  const { types, starts, ends, fields, parents, flags } = data;
  const named: Array<boolean | undefined> = [];
  const cursor = native.walk();
  let n = 0;
  let parent = -1;
  for (;;) {
    const typeId = cursor.nodeTypeId;
    if (named[typeId] === undefined) {
      if (NAMES.types[typeId] === undefined) learnt(NAMES.types, typeId, cursor.nodeType);
      named[typeId] = cursor.nodeIsNamed;
    }
    const start = cursor.startIndex;
    const end = cursor.endIndex;
    // Only a zero-width node can be MISSING: asking only then saves a native call per node.
    const missing = start === end && cursor.nodeIsMissing;
    const fieldId = cursor.currentFieldId;
    if (fieldId && NAMES.fields[fieldId] === undefined) learnt(NAMES.fields, fieldId, cursor.currentFieldName);
    types[n] = typeId;
    starts[n] = start;
    ends[n] = end;
    fields[n] = fieldId;
    parents[n] = parent;
    flags[n] = (named[typeId] ? NAMED : 0) | (missing ? MISSING : 0) | (missing || NAMES.types[typeId] === 'ERROR' ? HAS_ERROR : 0);
    if (cursor.gotoFirstChild()) {
      parent = n++;
      continue;
    }
    n++;
    // No next sibling: climb until one has (the root has none, which ends the walk).
    while (!cursor.gotoNextSibling()) {
      if (parent < 0) return finish(data, n);
      cursor.gotoParent();
      parent = parents[parent];
      if (parent < 0) return finish(data, n);
    }
  }
}

function finish(data: SyntaxData, n: number): SyntaxData {
  if (n !== data.count) throw new Error(`syntax walk visited ${n} nodes of ${data.count}`);
  // Pre-order: a parent precedes its children, so one backward pass carries errors upwards.
  for (let i = n - 1; i > 0; i--) if (data.flags[i] & HAS_ERROR) data.flags[data.parents[i]] |= HAS_ERROR;
  return data;
}

let nextIdBase = 1;

/** One file's tree over its SyntaxData: nodes are made on first use, once each. */
export class Tree {
  readonly rootNode: SyntaxNode;
  /** Subtree sizes, for walking children and descendants without objects. */
  readonly sizes: Uint32Array;
  private readonly nodes: Array<SyntaxNode | undefined>;
  private lineStarts?: number[];
  /** Node ids are unique in the process (tree-sitter's are addresses; code compares them). */
  readonly idBase: number;

  constructor(
    readonly data: SyntaxData,
    readonly text: string,
  ) {
    const { count, parents } = data;
    const sizes = new Uint32Array(count).fill(1);
    for (let i = count - 1; i > 0; i--) sizes[parents[i]] += sizes[i];
    this.sizes = sizes;
    this.nodes = new Array(count);
    this.idBase = nextIdBase;
    nextIdBase += count;
    this.rootNode = this.node(0);
  }

  node(i: number): SyntaxNode {
    return (this.nodes[i] ??= new SyntaxNode(this, i));
  }

  point(index: number): Point {
    if (!this.lineStarts) {
      const starts = [0];
      const text = this.text;
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
      this.lineStarts = starts;
    }
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return { row: lo, column: index - starts[lo] };
  }
}

export class SyntaxNode {
  private kids?: SyntaxNode[];
  private named?: SyntaxNode[];

  constructor(
    readonly tree: Tree,
    /** Pre-order number in the tree. */
    readonly index: number,
  ) {}

  get id(): number {
    return this.tree.idBase + this.index;
  }
  get type(): string {
    return NAMES.types[this.tree.data.types[this.index]]!;
  }
  get startIndex(): number {
    return this.tree.data.starts[this.index];
  }
  get endIndex(): number {
    return this.tree.data.ends[this.index];
  }
  get text(): string {
    const { starts, ends } = this.tree.data;
    return this.tree.text.slice(starts[this.index], ends[this.index]);
  }
  get startPosition(): Point {
    return this.tree.point(this.startIndex);
  }
  get endPosition(): Point {
    return this.tree.point(this.endIndex);
  }
  get isNamed(): boolean {
    return (this.tree.data.flags[this.index] & NAMED) !== 0;
  }
  get isMissing(): boolean {
    return (this.tree.data.flags[this.index] & MISSING) !== 0;
  }
  get isError(): boolean {
    return this.type === 'ERROR';
  }
  /** This node or a descendant is an ERROR or MISSING node. */
  get hasError(): boolean {
    return (this.tree.data.flags[this.index] & HAS_ERROR) !== 0;
  }

  get parent(): SyntaxNode | null {
    const p = this.tree.data.parents[this.index];
    return p < 0 ? null : this.tree.node(p);
  }
  get children(): SyntaxNode[] {
    if (!this.kids) {
      const { tree, index } = this;
      const sizes = tree.sizes;
      const end = index + sizes[index];
      const kids: SyntaxNode[] = [];
      for (let j = index + 1; j < end; j += sizes[j]) kids.push(tree.node(j));
      this.kids = kids;
    }
    return this.kids;
  }
  get namedChildren(): SyntaxNode[] {
    return (this.named ??= this.children.filter((c) => c.isNamed));
  }
  get childCount(): number {
    return this.children.length;
  }
  get namedChildCount(): number {
    return this.namedChildren.length;
  }
  child(index: number): SyntaxNode | null {
    return this.children[index] ?? null;
  }
  namedChild(index: number): SyntaxNode | null {
    return this.namedChildren[index] ?? null;
  }
  get firstChild(): SyntaxNode | null {
    return this.children[0] ?? null;
  }
  get lastChild(): SyntaxNode | null {
    return this.children[this.children.length - 1] ?? null;
  }
  get firstNamedChild(): SyntaxNode | null {
    return this.namedChildren[0] ?? null;
  }
  get lastNamedChild(): SyntaxNode | null {
    const named = this.namedChildren;
    return named[named.length - 1] ?? null;
  }
  private siblings(): SyntaxNode[] {
    return this.parent?.children ?? [this];
  }
  get nextSibling(): SyntaxNode | null {
    const s = this.siblings();
    return s[s.indexOf(this) + 1] ?? null;
  }
  get previousSibling(): SyntaxNode | null {
    const s = this.siblings();
    return s[s.indexOf(this) - 1] ?? null;
  }
  get nextNamedSibling(): SyntaxNode | null {
    const s = this.siblings();
    for (let i = s.indexOf(this) + 1; i < s.length; i++) if (s[i].isNamed) return s[i];
    return null;
  }
  get previousNamedSibling(): SyntaxNode | null {
    const s = this.siblings();
    for (let i = s.indexOf(this) - 1; i >= 0; i--) if (s[i].isNamed) return s[i];
    return null;
  }

  childForFieldName(name: string): SyntaxNode | null {
    const { tree, index } = this;
    const { fields } = tree.data;
    const sizes = tree.sizes;
    const end = index + sizes[index];
    for (let j = index + 1; j < end; j += sizes[j]) if (fields[j] && NAMES.fields[fields[j]] === name) return tree.node(j);
    return null;
  }
  childrenForFieldName(name: string): SyntaxNode[] {
    return this.children.filter((c) => c.fieldName === name);
  }
  /** The field this node fills in its parent (`target`, `left`, ...). */
  get fieldName(): string | undefined {
    const f = this.tree.data.fields[this.index];
    return f ? NAMES.fields[f] : undefined;
  }

  /** This node and its descendants of the given types, in source order (the node itself first). */
  descendantsOfType(types: string | readonly string[]): SyntaxNode[] {
    const ids = typeIds(typeof types === 'string' ? [types] : types);
    const { tree, index } = this;
    const nodeTypes = tree.data.types;
    const end = index + tree.sizes[index];
    const out: SyntaxNode[] = [];
    for (let j = index; j < end; j++) if (ids[nodeTypes[j]]) out.push(tree.node(j));
    return out;
  }
}

const idsByTypes = new Map<string, { version: number; ids: Uint8Array }>();

/** A lookup table: symbol id → 1 when its name is one of `types`. */
function typeIds(types: readonly string[]): Uint8Array {
  const key = types.join('\u0000');
  const hit = idsByTypes.get(key);
  if (hit && hit.version === namesVersion) return hit.ids;
  const ids = new Uint8Array(65536);
  NAMES.types.forEach((t, id) => t !== undefined && types.includes(t) && (ids[id] = 1));
  idsByTypes.set(key, { version: namesVersion, ids });
  return ids;
}
