import type { FileModel } from './model/module.js';
import type { ProjectIndex } from './model/project.js';

export type Severity = 'high' | 'medium' | 'low' | 'info';
export const SEVERITIES: Severity[] = ['high', 'medium', 'low', 'info'];

/** `safe`: apply without thought; `review`: changes behaviour a reviewer must accept; `none`: detect only. */
export type FixSafety = 'safe' | 'review' | 'none';

export interface Finding {
  ruleId: string;
  severity: Severity;
  /** Absolute path. */
  file: string;
  /** UTF-16 offsets into the file's text, as tree-sitter and magic-string count. */
  start: number;
  end: number;
  message: string;
  /**
   * Identifies the flaw independently of offsets (e.g. `MyApp.Cache.handle_call/3:{:get, _}`), so that
   * re-detection after a fix can tell whether this finding came back.
   */
  key: string;
  /** Whether the rule can rewrite this instance; a detect-only finding says why in its message. */
  fixable: boolean;
  /**
   * Other sites with the same root cause (further call sites, the other half of a race, the callers
   * that make it real): reported with this finding instead of as findings of their own.
   */
  related?: RelatedLocation[];
  /** Rule-private data the fix needs (syntax nodes of the tree the finding was detected on). */
  data?: unknown;
}

export interface RelatedLocation {
  /** Absolute path. */
  file: string;
  start: number;
  end: number;
  message: string;
}

export interface Edit {
  /** Absolute path; may differ from the finding's file (e.g. adding a child to application.ex). */
  file: string;
  start: number;
  end: number;
  text: string;
}

export type FixResult =
  | { edits: Edit[]; notes?: string[] }
  /** The rule cannot rewrite this instance after all; `reason` says why. */
  | { skip: string };

export type OptionType = 'number' | 'string' | 'string[]' | 'boolean';

export interface OptionSpec {
  type: OptionType;
  default: unknown;
  description: string;
  /** Extra validation; return an error message when the value is not acceptable. */
  validate?: (value: unknown) => string | undefined;
}

export type OptionSchema = Record<string, OptionSpec>;

export interface DetectContext<O> {
  file: FileModel;
  project: ProjectIndex;
  options: O;
}

export interface FixContext<O> {
  file: FileModel;
  project: ProjectIndex;
  options: O;
}

export interface Transform<O = Record<string, unknown>> {
  id: string;
  title: string;
  severity: Severity;
  /** The section of the seed catalogue this rule answers, e.g. `5.1`. */
  seedRef?: string;
  fixSafety: FixSafety;
  /** Markdown: what, why it matters in OTP terms, how to fix by hand, a small before/after. */
  explanation: string;
  /**
   * The harm model: what goes wrong and under which runtime condition. The rule reports only where the
   * code establishes that condition on a path that runs in production (see docs/severity.md).
   */
  harm?: string;
  /** What a reviewer of the rewrite should check (behaviour it changes); shown in pull request bodies. */
  risks?: string;
  options: OptionSchema;
  detect(ctx: DetectContext<O>): Finding[];
  fix?(finding: Finding, ctx: FixContext<O>): FixResult;
}

// Transforms are stored in one registry array whatever their option types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTransform = Transform<any>;
