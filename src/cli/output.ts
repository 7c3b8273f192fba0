import pc from 'picocolors';
export type Colors = ReturnType<typeof pc.createColors>;

/** Colour only where a person reads it: a TTY, unless NO_COLOR is set (FORCE_COLOR forces it). */
export function colorsFor(stream: NodeJS.WriteStream): Colors {
  const forced = process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0';
  const enabled = forced || (!!stream.isTTY && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb');
  return pc.createColors(enabled);
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Where relative paths start (default: process.cwd()); tests run the CLI in a temporary directory. */
  cwd?: string;
  /** Whether a person can answer prompts (default: stdin and stdout are TTYs). */
  interactive?: boolean;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  stdout: process.stdout,
  stderr: process.stderr,
};
