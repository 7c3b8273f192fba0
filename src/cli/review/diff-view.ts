import type { Colors } from '../output.js';

/** Colour a unified diff for a terminal; with line numbers when asked (interactive review). */
export function colorDiff(diff: string, c: Colors, lineNumbers = false): string {
  let oldLine = 0;
  let newLine = 0;
  return diff
    .split('\n')
    .map((line) => {
      if (line.startsWith('diff --git') || line.startsWith('---') || line.startsWith('+++')) return c.bold(line);
      const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
      if (hunk) {
        oldLine = Number(hunk[1]);
        newLine = Number(hunk[2]);
        return c.cyan(line);
      }
      if (!lineNumbers) return line.startsWith('+') ? c.green(line) : line.startsWith('-') ? c.red(line) : line;
      const num = (n: number | undefined) => (n === undefined ? '    ' : String(n).padStart(4));
      if (line.startsWith('+')) return c.dim(`${num(undefined)} ${num(newLine++)} `) + c.green(line);
      if (line.startsWith('-')) return c.dim(`${num(oldLine++)} ${num(undefined)} `) + c.red(line);
      if (line.startsWith(' ')) return c.dim(`${num(oldLine++)} ${num(newLine++)} `) + line;
      return line;
    })
    .join('\n');
}
