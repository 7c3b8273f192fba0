/** Unified diffs that `git apply` and `patch -p1` accept. */
import { structuredPatch } from 'diff';

export function unifiedDiff(relPath: string, before: string, after: string, context = 3): string {
  if (before === after) return '';
  const posix = relPath.split('\\').join('/');
  const patch = structuredPatch(`a/${posix}`, `b/${posix}`, before, after, '', '', { context });
  const a = quotePath(`a/${posix}`);
  const b = quotePath(`b/${posix}`);
  // As git does: a name with a space ends with a tab, so GNU patch does not cut it at the space.
  const tab = /\s/.test(posix) && !a.startsWith('"') ? '\t' : '';
  const lines = [`diff --git ${a} ${b}`, `--- ${a}${tab}`, `+++ ${b}${tab}`];
  for (const hunk of patch.hunks) {
    lines.push(`@@ -${range(hunk.oldStart, hunk.oldLines)} +${range(hunk.newStart, hunk.newLines)} @@`);
    lines.push(...hunk.lines);
  }
  return lines.join('\n') + '\n';
}

function range(start: number, count: number): string {
  return count === 1 ? `${start}` : `${start},${count}`;
}

const ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Git's C-style quoting, for names with quotes, backslashes or control characters (UTF-8 stays raw). */
function quotePath(name: string): string {
  if (!/["\\\u0000-\u001f\u007f]/.test(name)) return name;
  const body = [...name]
    .map((ch) => ESCAPES[ch] ?? (ch < ' ' || ch === '\u007f' ? `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}` : ch))
    .join('');
  return `"${body}"`;
}
