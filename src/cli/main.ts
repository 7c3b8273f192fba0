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
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
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
      );
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
    .option('-y, --yes', 'apply every verified change without asking')
    .option('--patch <file>', 'write the changes to a patch file (for git apply); change no source')
    .option('--check', 'write nothing; exit 1 when changes would be made (for CI)')
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
    .option('--body-dir <dir>', 'write each pull request body to <dir>/<branch>.md')
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
