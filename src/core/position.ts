export interface Position {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units (as editors and SARIF count by default). */
  column: number;
}

export function positionOf(text: string, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
