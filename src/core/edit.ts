/** Edits are data; this is the only place that turns them into text (with magic-string). */
import MagicString from 'magic-string';
import type { Edit } from './types.js';

/** Two edits conflict when their ranges intersect, or one inserts strictly inside the other's range. */
export function editsConflict(a: Edit, b: Edit): boolean {
  if (a.file !== b.file) return false;
  if (a.start === a.end && b.start === b.end) return false; // two insertions at one point keep their order
  if (a.start === a.end) return b.start < a.start && a.start < b.end;
  if (b.start === b.end) return a.start < b.start && b.start < a.end;
  return a.start < b.end && b.start < a.end;
}

export function findConflict(edits: Edit[]): [Edit, Edit] | undefined {
  for (let i = 0; i < edits.length; i++)
    for (let j = i + 1; j < edits.length; j++) if (editsConflict(edits[i], edits[j])) return [edits[i], edits[j]];
  return undefined;
}

/** Apply non-conflicting edits of one file; inserted text takes the file's line ending. */
export function applyEdits(text: string, edits: Edit[], eol: '\n' | '\r\n' = '\n'): string {
  const s = new MagicString(text);
  for (const edit of edits) {
    const replacement = eol === '\n' ? edit.text : edit.text.replace(/\r?\n/g, eol);
    if (edit.start === edit.end) s.appendLeft(edit.start, replacement);
    else s.overwrite(edit.start, edit.end, replacement);
  }
  return s.toString();
}

/** Where each edit's text lands in the result of `applyEdits` (same order and line endings). */
export function writtenRanges(edits: Edit[], eol: '\n' | '\r\n' = '\n'): Array<{ start: number; end: number }> {
  let delta = 0;
  return [...edits]
    .sort((a, b) => a.start - b.start)
    .map((edit) => {
      const length = (eol === '\n' ? edit.text : edit.text.replace(/\r?\n/g, eol)).length;
      const start = edit.start + delta;
      delta += length - (edit.end - edit.start);
      return { start, end: start + length };
    });
}
