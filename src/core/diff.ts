/** Unified diffs that `git apply` and `patch -p1` accept. */
import { structuredPatch } from 'diff';

export function unifiedDiff(relPath: string, before: string, after: string, context = 3): string {
  if (before === after) return '';
  const posix = relPath.split('\\').join('/');
  const patch = structuredPatch(`a/${posix}`, `b/${posix}`, before, after, '', '', { context });
  const lines = [`diff --git a/${posix} b/${posix}`, `--- a/${posix}`, `+++ b/${posix}`];
  for (const hunk of patch.hunks) {
    lines.push(`@@ -${range(hunk.oldStart, hunk.oldLines)} +${range(hunk.newStart, hunk.newLines)} @@`);
    lines.push(...hunk.lines);
  }
  return lines.join('\n') + '\n';
}

function range(start: number, count: number): string {
  return count === 1 ? `${start}` : `${start},${count}`;
}
