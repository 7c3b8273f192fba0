import leven from 'leven';
/** One error type for the whole tool: the CLI maps it to an exit code, a title and a hint. */
export type ErrorKind = 'usage' | 'config' | 'io' | 'internal';

const EXIT_CODES: Record<ErrorKind, number> = { usage: 2, config: 2, io: 3, internal: 3 };

export class OtpfixError extends Error {
  readonly kind: ErrorKind;
  readonly hint?: string;
  constructor(kind: ErrorKind, message: string, hint?: string) {
    super(message);
    this.name = 'OtpfixError';
    this.kind = kind;
    this.hint = hint;
  }
  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

export const usageError = (message: string, hint?: string) => new OtpfixError('usage', message, hint);
export const configError = (message: string, hint?: string) => new OtpfixError('config', message, hint);
export const ioError = (message: string, hint?: string) => new OtpfixError('io', message, hint);

/** "Did you mean …?" for a mistyped rule id: the ids within a few edits of it, closest first. */
export function unknownRuleHint(id: string, known: string[]): string {
  const close = known
    .map((k) => ({ k, d: leven(id, k) }))
    .filter(({ k, d }) => d <= Math.max(2, Math.floor(k.length / 3)) || (id.length >= 4 && k.includes(id)))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map(({ k }) => k);
  return close.length ? `Did you mean ${close.join(', ')}? Run \`otpfix rules\` to list the rules.` : 'Run `otpfix rules` to list the rules.';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
