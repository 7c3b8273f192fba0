/** Small text helpers shared by everything the CLI prints. */

/**
 * A value as JSON, shortened when long: an option default such as a list of 40 blocking calls is
 * summarised (`[41 entries: "a", "b", …]`) instead of filling a prompt or a pull request.
 */
export function shortJson(value: unknown, max = 80): string {
  const full = JSON.stringify(value);
  if (full === undefined || full.length <= max) return String(full);
  if (Array.isArray(value)) {
    const shown: string[] = [];
    let length = 0;
    for (const item of value) {
      const text = JSON.stringify(item);
      if (length + text.length > max - 25) break;
      shown.push(text);
      length += text.length + 2;
    }
    return `[${value.length} entries: ${shown.join(', ')}${shown.length < value.length ? ', …' : ''}]`;
  }
  return `${full.slice(0, max - 1)}…`;
}

/**
 * Text from outside (file names above all) made safe for a terminal: control characters, which could
 * move the cursor, rewrite the title or hide text, are shown as escapes (`\n`, `\x1b`, `\u202e`).
 */
export function printable(text: string): string {
  return text.replace(
    // C0 and C1 controls, DEL, and the bidirectional overrides that can reorder what is shown.
    /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g,
    (ch) => {
      const code = ch.charCodeAt(0);
      if (ch === '\n') return '\\n';
      if (ch === '\r') return '\\r';
      if (ch === '\t') return '\\t';
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    },
  );
}
