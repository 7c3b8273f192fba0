/**
 * `.otpfix.json` end to end: found upwards, rules on/off, severity overrides, per-rule options,
 * include/exclude globs relative to the config file; invalid config is exit 2 naming the key.
 */
import { describe, expect, it } from 'vitest';
import { CLEAN, makeProject, POOL, runCli, WORK } from '../support/cli.js';

const RULE = 'supervisor-max-children';

function withConfig(config: unknown, files: Record<string, string> = { 'lib/pool.ex': POOL, 'lib/work.ex': WORK }) {
  return makeProject({ ...files, '.otpfix.json': typeof config === 'string' ? config : JSON.stringify(config) });
}

async function jsonScan(dir: string, args: string[] = []) {
  const run = await runCli(['scan', '--format', 'json', ...args], dir);
  return { ...run, report: run.stdout ? JSON.parse(run.stdout) : undefined };
}

describe('rules on and off', () => {
  it('"off" turns a rule off; --rule still runs it explicitly', async () => {
    const p = withConfig({ rules: { [RULE]: 'off' } });
    try {
      const off = await jsonScan(p.dir, ['lib']);
      expect(off.code).toBe(0);
      expect(off.report.findings).toEqual([]);
      const explicit = await jsonScan(p.dir, ['lib', '--rule', RULE]);
      expect(explicit.report.findings).toHaveLength(2);
    } finally {
      p.remove();
    }
  });

  it('{ enabled: false } too, and { enabled: true } keeps it on', async () => {
    for (const [enabled, count] of [
      [false, 0],
      [true, 2],
    ] as const) {
      const p = withConfig({ rules: { [RULE]: { enabled } } });
      try {
        expect((await jsonScan(p.dir, ['lib'])).report.findings).toHaveLength(count);
      } finally {
        p.remove();
      }
    }
  });
});

describe('severity overrides and options', () => {
  it('overrides the severity of findings in every format', async () => {
    const p = withConfig({ rules: { [RULE]: { severity: 'medium' } } });
    try {
      const { report } = await jsonScan(p.dir, ['lib']);
      expect(report.findings.map((f: { severity: string }) => f.severity)).toEqual(['medium', 'medium']);
      const gh = await runCli(['scan', 'lib', '--format', 'github'], p.dir);
      expect(gh.stdout.split('\n')[0]).toMatch(/^::warning /);
    } finally {
      p.remove();
    }
  });

  it('passes per-rule options to the fix', async () => {
    const p = withConfig({ rules: { [RULE]: { options: { maxChildren: 64 } } } });
    try {
      const run = await runCli(['fix', 'lib', '--dry-run'], p.dir);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('+    DynamicSupervisor.start_link(name: MyApp.Pool, strategy: :one_for_one, max_children: 64)');
      expect(run.stdout).not.toContain('1000');
    } finally {
      p.remove();
    }
  });
});

describe('include and exclude', () => {
  const files = {
    'lib/pool.ex': POOL,
    'lib/legacy/old_pool.ex': POOL.replace(/MyApp\.Pool/g, 'MyApp.OldPool').replace(/MyApp\.Tasks/g, 'MyApp.OldTasks'),
    'scripts/pool.exs': POOL,
    'lib/clean.ex': CLEAN,
  };

  it('walks only included files, minus excluded ones, relative to the config file even from a subdirectory', async () => {
    const p = withConfig({ include: ['lib/**/*.ex'], exclude: ['lib/legacy/'] }, files);
    try {
      const fromRoot = await jsonScan(p.dir);
      expect(new Set(fromRoot.report.findings.map((f: { file: string }) => f.file))).toEqual(new Set(['lib/pool.ex']));
      expect(fromRoot.report.summary.files).toBe(2);
      // From lib/: the config is found upwards and its globs still mean the same files.
      const fromLib = await jsonScan(p.path('lib'), ['.']);
      expect(new Set(fromLib.report.findings.map((f: { file: string }) => f.file))).toEqual(new Set(['pool.ex']));
    } finally {
      p.remove();
    }
  });

  it('a file named on the command line is always analysed', async () => {
    const p = withConfig({ exclude: ['lib/legacy/**'] }, files);
    try {
      expect((await jsonScan(p.dir, ['lib'])).report.findings.every((f: { file: string }) => !f.file.includes('legacy'))).toBe(true);
      expect((await jsonScan(p.dir, ['lib/legacy/old_pool.ex'])).report.findings).toHaveLength(2);
    } finally {
      p.remove();
    }
  });

  it('--config names another file; without include, . is scanned', async () => {
    const p = makeProject({ ...files, 'conf/otpfix.json': JSON.stringify({ rules: { [RULE]: { severity: 'info' } } }) });
    try {
      const { report } = await jsonScan(p.dir, ['--config', 'conf/otpfix.json']);
      expect(report.findings).toHaveLength(6);
      expect(report.findings.every((f: { severity: string }) => f.severity === 'info')).toBe(true);
    } finally {
      p.remove();
    }
  });
});

describe('invalid config is exit 2 with an error naming the key', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{ "rules": ', /cannot read config .*\.otpfix\.json/],
    ['not an object', '[1, 2]', /must be a JSON object/],
    ['an unknown top-level key', { rulez: {} }, /unknown key "rulez"/],
    ['include not a list', { include: 'lib' }, /"include" must be an array/],
    ['exclude with a number', { exclude: [1] }, /"exclude" must be an array/],
    ['an unknown rule', { rules: { 'no-such-rule': 'off' } }, /unknown rule "no-such-rule"/],
    ['a bad rule value', { rules: { [RULE]: 'maybe' } }, new RegExp(`rules\\.${RULE} must be "off", "on" or an object`)],
    ['an unknown rule key', { rules: { [RULE]: { level: 'high' } } }, new RegExp(`rules\\.${RULE}: unknown key "level"`)],
    ['a bad severity', { rules: { [RULE]: { severity: 'critical' } } }, new RegExp(`rules\\.${RULE}\\.severity must be one of`)],
    ['enabled not a boolean', { rules: { [RULE]: { enabled: 'yes' } } }, new RegExp(`rules\\.${RULE}\\.enabled must be true or false`)],
    ['an unknown option', { rules: { [RULE]: { options: { max: 5 } } } }, new RegExp(`rules\\.${RULE}\\.options\\.max: rule ${RULE} has no option "max"`)],
    ['an option of the wrong type', { rules: { [RULE]: { options: { maxChildren: '5' } } } }, new RegExp(`rules\\.${RULE}\\.options\\.maxChildren must be a number`)],
    ['an option failing validation', { rules: { [RULE]: { options: { maxChildren: -1 } } } }, new RegExp(`rules\\.${RULE}\\.options\\.maxChildren must be a positive integer`)],
    ['options of a disabled rule', { rules: { [RULE]: { enabled: false, options: { maxChildren: 0 } } } }, /maxChildren must be a positive integer/],
  ];
  it.each(cases)('%s', async (_name, config, message) => {
    const p = withConfig(config);
    try {
      for (const command of [['scan', 'lib'], ['fix', 'lib', '--dry-run']]) {
        const run = await runCli(command, p.dir);
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(message);
        expect(run.stdout).toBe('');
      }
    } finally {
      p.remove();
    }
  });
});
