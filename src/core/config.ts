/**
 * Configuration: `.otpfix.json` found upwards from the working directory, plus command-line choices.
 * Every key is validated; a bad one is a config error that names it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { configError, errorMessage, unknownRuleHint } from './errors.js';
import { NON_PRODUCTION_MODES, type NonProductionMode } from './roles.js';
import { SEVERITIES, type AnyTransform, type OptionSpec, type Severity } from './types.js';

export const CONFIG_FILE = '.otpfix.json';

export interface RuleConfig {
  enabled?: boolean;
  severity?: Severity;
  options?: Record<string, unknown>;
}

export interface Config {
  /** Where the config came from (undefined: defaults only). */
  source?: string;
  rules: Record<string, RuleConfig>;
  include: string[];
  exclude: string[];
  /** Findings in tests, examples, benchmarks and docs: `info` (default), `full` (like production code) or `off`. */
  nonProductionCode?: NonProductionMode;
  /** Files larger than this many bytes are not analysed (0: no limit; default DEFAULT_MAX_FILE_SIZE). */
  maxFileSize?: number;
}

/** A transform with its options resolved for this run. */
export interface ActiveRule {
  transform: AnyTransform;
  options: Record<string, unknown>;
  /** Replaces the rule's default severity in findings (lowered, unproven findings keep theirs unless this is lower). */
  severity: Severity;
  /** How this run treats findings in non-production code (tests, examples, benchmarks, docs). */
  nonProduction: NonProductionMode;
}

export function findConfigFile(cwd: string): string | undefined {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, CONFIG_FILE);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

export function loadConfig(file: string | undefined): Config {
  const config: Config = { rules: {}, include: [], exclude: [] };
  if (!file) return config;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw configError(`cannot read config ${file}: ${errorMessage(err)}`);
  }
  config.source = file;
  if (!isObject(raw)) throw configError(`${file}: the config must be a JSON object`);
  for (const key of Object.keys(raw))
    if (!['rules', 'include', 'exclude', 'nonProductionCode', 'maxFileSize', '$schema'].includes(key))
      throw configError(`${file}: unknown key "${key}"`, 'Known keys: rules, include, exclude, nonProductionCode, maxFileSize.');
  if (raw.maxFileSize !== undefined) {
    const problem = checkMaxFileSize(raw.maxFileSize);
    if (problem) throw configError(`${file}: "maxFileSize" ${problem}`);
    config.maxFileSize = raw.maxFileSize as number;
  }
  if (raw.nonProductionCode !== undefined) {
    if (!NON_PRODUCTION_MODES.includes(raw.nonProductionCode as NonProductionMode))
      throw configError(`${file}: "nonProductionCode" must be one of ${NON_PRODUCTION_MODES.join(', ')}`);
    config.nonProductionCode = raw.nonProductionCode as NonProductionMode;
  }
  for (const key of ['include', 'exclude'] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
      throw configError(`${file}: "${key}" must be an array of glob strings`);
    config[key] = value as string[];
  }
  if (raw.rules !== undefined) {
    if (!isObject(raw.rules)) throw configError(`${file}: "rules" must be an object keyed by rule id`);
    for (const [id, value] of Object.entries(raw.rules)) {
      if (value === 'off' || value === false) config.rules[id] = { enabled: false };
      else if (value === 'on' || value === true) config.rules[id] = { enabled: true };
      else if (isObject(value)) {
        for (const k of Object.keys(value))
          if (!['enabled', 'severity', 'options'].includes(k))
            throw configError(`${file}: rules.${id}: unknown key "${k}"`, 'Known keys: enabled, severity, options.');
        if (value.enabled !== undefined && typeof value.enabled !== 'boolean')
          throw configError(`${file}: rules.${id}.enabled must be true or false`);
        if (value.severity !== undefined && !SEVERITIES.includes(value.severity as Severity))
          throw configError(`${file}: rules.${id}.severity must be one of ${SEVERITIES.join(', ')}`);
        if (value.options !== undefined && !isObject(value.options))
          throw configError(`${file}: rules.${id}.options must be an object`);
        config.rules[id] = {
          enabled: value.enabled as boolean | undefined,
          severity: value.severity as Severity | undefined,
          options: value.options as Record<string, unknown> | undefined,
        };
      } else throw configError(`${file}: rules.${id} must be "off", "on" or an object`);
    }
  }
  return config;
}

/** Why a `maxFileSize` value (config or --max-file-size) is not usable, if it is not. */
export function checkMaxFileSize(value: unknown): string | undefined {
  return Number.isSafeInteger(value) && (value as number) >= 0 ? undefined : 'must be a whole number of bytes (0 for no limit)';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Defaults merged with given values; unknown keys and wrong types are config errors naming the key
 * (`where` says where the options came from, e.g. `.otpfix.json: rules.<id>.options`).
 */
export function resolveOptions(transform: AnyTransform, given: Record<string, unknown> = {}, where = `rules.${transform.id}.options`): Record<string, unknown> {
  const resolved: Record<string, unknown> = {};
  for (const key of Object.keys(given))
    if (!(key in transform.options))
      throw configError(
        `${where}.${key}: rule ${transform.id} has no option "${key}"`,
        Object.keys(transform.options).length ? `Its options: ${Object.keys(transform.options).join(', ')}.` : 'It takes no options.',
      );
  for (const [key, spec] of Object.entries(transform.options)) {
    const value = key in given ? given[key] : spec.default;
    const problem = checkType(spec, value) ?? spec.validate?.(value);
    if (problem) throw configError(`${where}.${key} ${problem}`);
    resolved[key] = value;
  }
  return resolved;
}

function checkType(spec: OptionSpec, value: unknown): string | undefined {
  switch (spec.type) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : 'must be a number';
    case 'string':
      return typeof value === 'string' ? undefined : 'must be a string';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? undefined : 'must be an array of strings';
  }
}

export interface RuleSelection {
  /** `--rule` ids: only these run (validated against the registry). */
  only?: string[];
  /** `--non-production`: overrides the config's `nonProductionCode`. */
  nonProduction?: NonProductionMode;
}

export function activeRules(registry: AnyTransform[], config: Config, selection: RuleSelection = {}): ActiveRule[] {
  const known = new Set(registry.map((t) => t.id));
  for (const id of [...Object.keys(config.rules), ...(selection.only ?? [])])
    if (!known.has(id)) throw configError(`unknown rule "${id}"${config.rules[id] ? ` in ${config.source}` : ''}`, unknownRuleHint(id, [...known]));
  // Every configured rule's options are checked, also for rules this run leaves out.
  const resolved = new Map(
    registry.map((t) => [
      t.id,
      resolveOptions(t, config.rules[t.id]?.options, `${config.source ? `${config.source}: ` : ''}rules.${t.id}.options`),
    ]),
  );
  return registry
    .filter((t) => (selection.only?.length ? selection.only.includes(t.id) : config.rules[t.id]?.enabled !== false))
    .map((t) => ({
      transform: t,
      options: resolved.get(t.id)!,
      severity: config.rules[t.id]?.severity ?? t.severity,
      nonProduction: selection.nonProduction ?? config.nonProductionCode ?? 'info',
    }));
}

/** The directory a config's include/exclude globs are relative to. */
export function configBase(config: Config, cwd: string): string {
  return config.source ? path.dirname(config.source) : cwd;
}
