#!/usr/bin/env node
/**
 * The command table; the work lives in the library (src/api.ts). Each command's module is loaded
 * when it runs, so `rules` and `explain` never load the parser or the analyses.
 */
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { NON_PRODUCTION_MODES, type NonProductionMode } from '../core/roles.js';
import { SEVERITIES } from '../core/types.js';
import { OtpfixError, errorMessage } from '../core/errors.js';
import { DEFAULT_MAX_FILE_SIZE, formatBytes } from '../core/files.js';
import { CHOICES } from './review/choices.js';
import { SCAN_FORMATS } from './formats.js';
import { colorsFor, processIo, type Io } from './output.js';
import { VERSION } from './version.js';

const collect = (value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)];
const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
};

export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('otpfix')
    .description('Find and fix concurrency, performance and resource-management flaws in Elixir/OTP code.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      // Usage errors from option parsing look like every other error: `otpfix: <message>`.
      outputError: (s, write) => write(s.replace(/^error: /, `${colorsFor(io.stderr).red('otpfix:')} `)),
    })
    .exitOverride();

  const common = (cmd: Command) =>
    cmd
      .argument('[paths...]', 'files or directories to analyse (default: the config include list, or .)')
      .option('-r, --rule <id>', 'only this rule (repeat or comma-separate for several)', collect)
      .option('-c, --config <file>', 'config file (default: .otpfix.json found upwards from here)')
      .option('-j, --jobs <n>', 'threads to parse on (default: the available cores)', positiveInt)
      .option('--no-cache', 'parse every file again instead of reusing the syntax cached for unchanged files')
      .addOption(
        new Option('--non-production <mode>', 'findings in tests, examples, benchmarks and docs: info and never rewritten (default), full, or off')
          .choices([...NON_PRODUCTION_MODES]),
      )
      .option('--max-file-size <size>', `skip files larger than this (bytes, or with kB/MB; 0: no limit; default ${formatBytes(DEFAULT_MAX_FILE_SIZE)})`, parseSize);
  const logging = (cmd: Command) =>
    cmd
      .addOption(new Option('-q, --quiet', 'print only findings and errors').conflicts('verbose'))
      .option('-v, --verbose', 'print per-file status and timings on stderr');
  // The CI options: what a pull-request check, a legacy codebase or a job matrix reports.
  const narrowing = (cmd: Command) =>
    cmd
      .option('--changed-since <ref>', 'report only findings in files changed since the merge base of <ref> and HEAD (the analysis still reads every file)')
      .option('--lines', 'with --changed-since: only findings on changed lines')
      .option('--shard <i/n>', 'only the files of shard i of n (split by a stable hash of the path), for a CI matrix')
      .option('--baseline <file>', 'report only findings not recorded in <file> (written by scan --write-baseline); robust to line shifts');
  const scopeOptions = (opts: Record<string, unknown>) => ({
    changedSince: opts.changedSince as string | undefined,
    lines: opts.lines as boolean | undefined,
    shard: opts.shard as string | undefined,
    baseline: opts.baseline as string | undefined,
  });
  const cwd = () => io.cwd ?? process.cwd();
  const runOptions = (paths: string[], opts: Record<string, unknown>) => ({
    paths,
    cwd: cwd(),
    rules: opts.rule as string[] | undefined,
    nonProduction: opts.nonProduction as NonProductionMode | undefined,
    configFile: opts.config === undefined ? undefined : path.resolve(cwd(), opts.config as string),
    maxFileSize: opts.maxFileSize as number | undefined,
    jobs: opts.jobs as number | undefined,
    cache: opts.cache as boolean,
    quiet: !!opts.quiet,
    verbose: !!opts.verbose,
  });

  narrowing(logging(common(program.command('scan'))))
    .description('report findings; exit 0 when none, 1 when some, 2 on usage or config errors, 3 on I/O errors')
    .addOption(new Option('-f, --format <format>', 'output format').choices([...SCAN_FORMATS]).default('text'))
    .addOption(new Option('--fail-on <severity>', 'exit 1 only for findings at or above this severity').choices([...SEVERITIES]))
    .addOption(
      new Option('--write-baseline <file>', 'record the findings reported in <file> (for --baseline) and exit 0').conflicts('baseline'),
    )
    .addHelpText('after', SCAN_HELP)
    .action(async (paths: string[], opts) => {
      const { scanCommand } = await import('./commands/scan.js');
      setExit(
        await scanCommand(
          { ...runOptions(paths, opts), ...scopeOptions(opts), format: opts.format, failOn: opts.failOn, writeBaseline: opts.writeBaseline },
          io,
        ),
      );
    });

  narrowing(logging(common(program.command('fix'))))
    .description('rewrite findings: approve each change on a terminal, or use --yes / --dry-run / --patch')
    .option('--dry-run', 'print the changes as a unified diff; write nothing')
    .addOption(new Option('-y, --yes', 'apply every verified change without asking').conflicts(['dryRun', 'patch', 'check']))
    .option('--patch <file>', 'write the changes to a patch file (for git apply); change no source')
    .option('--force', 'with --patch: replace the patch file if it exists (never a source file)')
    .option('--check', 'write nothing; exit 1 when changes would be made (for CI)')
    .addHelpText('after', FIX_HELP)
    .action(async (paths: string[], opts) => {
      const { fixCommand } = await import('./commands/fix.js');
      setExit(
        await fixCommand(
          {
            ...runOptions(paths, opts),
            ...scopeOptions(opts),
            dryRun: opts.dryRun,
            yes: opts.yes,
            patch: opts.patch,
            force: opts.force,
            check: opts.check,
            interactive: io.interactive ?? (!!process.stdin.isTTY && !!process.stdout.isTTY),
          },
          io,
        ),
      );
    });

  common(program.command('pr'))
    .description('make one git branch (and pull request) per rule, file or run, without touching your checkout')
    .addOption(new Option('-g, --group <grouping>', 'one branch per rule, per file, or one for all').choices(['rule', 'file', 'all']).default('rule'))
    .option('--branch-prefix <prefix>', 'branch names start with this', 'otpfix/')
    .option('--body-dir <dir>', 'write each pull request body to <dir>/<branch>.md (a / in the branch name becomes -)')
    .option('--allow-dirty', 'run despite uncommitted changes (the branches are made from HEAD, without them)')
    .option('--force', 'replace branches that already exist (and force-push them)')
    .option('--push <remote>', 'push the branches to this remote')
    .option('--open-pr', 'open a pull request per pushed branch with gh (the GitHub CLI)')
    .option('--base <branch>', 'base branch of the pull requests (default: the current branch)')
    .option('--no-verify', "skip git's commit hooks")
    .option('--repos <file>', 'run over the repositories listed in <file> (local paths or clone URLs, one per line)')
    .option('--clone-dir <dir>', 'where --repos clones URLs (default: a new temporary directory)')
    .option('--concurrency <n>', 'with --repos: work on up to <n> repositories at once (default 1)')
    .option('--state <file>', 'with --repos: record done and failed repositories in <file>; a rerun skips those done')
    .option('--shard <i/n>', 'with --repos: only the repositories of shard i of n (by position in the list), for a CI matrix')
    .addOption(new Option('-f, --format <format>', 'with --repos: the final table as text or JSON (on stdout)').choices(['text', 'json']).default('text'))
    .action(async (paths: string[], opts) => {
      const { prCommand } = await import('./commands/pr.js');
      setExit(
        await prCommand(
          {
            paths,
            cwd: process.cwd(),
            rules: opts.rule,
            nonProduction: opts.nonProduction,
            configFile: opts.config,
            group: opts.group,
            branchPrefix: opts.branchPrefix,
            bodyDir: opts.bodyDir,
            allowDirty: opts.allowDirty,
            force: opts.force,
            push: opts.push,
            openPr: opts.openPr,
            base: opts.base,
            verify: opts.verify,
            repos: opts.repos,
            cloneDir: opts.cloneDir,
            concurrency: opts.concurrency,
            state: opts.state,
            shard: opts.shard,
            format: opts.format,
            env: process.env,
          },
          io,
        ),
      );
    });

  program
    .command('merge')
    .description('combine the SARIF or JSON reports of --shard runs into one report (printed on stdout)')
    .argument('<reports...>', 'report files, all SARIF or all JSON')
    .action(async (files: string[]) => setExit((await import('./commands/merge.js')).mergeCommand(files, io, cwd())));

  program
    .command('rules')
    .description('list the rules')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts) => setExit((await import('./commands/rules.js')).rulesCommand(opts, io)));

  program
    .command('explain')
    .description('explain a rule: what it finds, why it matters in OTP terms, how it fixes it')
    .argument('<rule>', 'rule id (see otpfix rules)')
    .action(async (id: string) => setExit((await import('./commands/explain.js')).explainCommand(id, io)));

  return program;
}

/** `--max-file-size`: bytes, or a number with kB or MB (powers of 1000, like the messages). */
function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(k|kb|m|mb)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a number of bytes, e.g. 2000000 or 2MB (0: no limit)');
  const unit = m[2]?.toLowerCase().startsWith('m') ? 1_000_000 : m[2] ? 1000 : 1;
  return Math.round(Number(m[1]) * unit);
}

const EXIT_CODES = (one: string) => `
Exit codes:
  0    ${one === 'scan' ? 'no findings (at or above --fail-on)' : 'done (also when there was nothing to change)'}
  1    ${one === 'scan' ? 'findings' : 'with --check: changes would be made'}
  2    usage or config error, or nothing could be analysed (no Elixir file found, none parsed)
  3    I/O error${one === 'fix' ? ' (a file could not be written, or changed on disk during the run)' : ''}${
    one === 'fix' ? '\n  130  interrupted (Ctrl-C, SIGTERM): nothing written before the write phase; after it, each file\n       is either untouched or completely written' : ''
  }`;

const SCAN_HELP = `${EXIT_CODES('scan')}

Files larger than --max-file-size (default ${formatBytes(DEFAULT_MAX_FILE_SIZE)}) are skipped with a warning.`;

const FIX_HELP = `
Keys when reviewing on a terminal (h lists them at the prompt):
${CHOICES.map((c) => `  ${c.key}    ${c.name}`).join('\n')}
  Enter means y. Nothing is written until the review ends; Ctrl-C discards it.
${EXIT_CODES('fix')}`;

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const c = colorsFor(io.stderr);
    if (err instanceof OtpfixError) {
      io.err(`${c.red('otpfix:')} ${err.message}`);
      if (err.hint) io.err(c.dim(err.hint));
      return err.exitCode;
    }
    if (err && typeof err === 'object' && 'name' in err && err.name === 'ExitPromptError') {
      io.err('interrupted; nothing was written.');
      return 130;
    }
    io.err(`${c.red('otpfix: internal error:')} ${errorMessage(err)}`);
    if (process.env.OTPFIX_DEBUG) io.err(String((err as Error)?.stack));
    return 3;
  }
}

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly || process.env.OTPFIX_BIN === '1') {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
