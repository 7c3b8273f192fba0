/**
 * Driving the real CLI: in-process through `main(argv, io)` with captured output, or as a child
 * process (`node bin/otpfix.js`, built by the global setup) for exit codes, signals and TTY-free runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/output.js';
import { ROOT } from './fixtures.js';

export const BIN = path.join(ROOT, 'bin/otpfix.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A stream stand-in that is not a TTY (so no colour, no progress). */
function fakeStream(isTTY = false): NodeJS.WriteStream {
  return { isTTY, columns: 100, write: () => true } as unknown as NodeJS.WriteStream;
}

/** `otpfix <args>` in this process, from `cwd`. */
export async function runCli(args: string[], cwd: string, extra: Partial<Io> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    out: (t) => (stdout += t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => (stderr += t.endsWith('\n') ? t : `${t}\n`),
    stdout: fakeStream(),
    stderr: fakeStream(),
    cwd,
    interactive: false,
    ...extra,
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** `node bin/otpfix.js <args>` as a child process with pipes (never a TTY). */
export function spawnCli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): CliRun {
  const run = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...env },
  });
  if (run.error) throw run.error;
  return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

export interface Project {
  dir: string;
  file(rel: string): string;
  write(rel: string, text: string): void;
  path(rel: string): string;
  remove(): void;
}

/** A temporary project directory holding `files` (relative path → text). */
export function makeProject(files: Record<string, string>, prefix = 'otpfix-cli-'): Project {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const project: Project = {
    dir,
    path: (rel) => path.join(dir, rel),
    file: (rel) => readFileSync(path.join(dir, rel), 'utf8'),
    write: (rel, text) => {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), text);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  for (const [rel, text] of Object.entries(files)) project.write(rel, text);
  return project;
}

/**
 * Two unbounded supervisors started by name, each with children started from the callers of a public
 * function (two medium findings). Detect only alone (nobody is seen handling {:error, :max_children});
 * with WORK, whose calls handle it, both fixable.
 */
export const POOL = `defmodule MyApp.Pool do
  def start_link(_opts) do
    DynamicSupervisor.start_link(name: MyApp.Pool, strategy: :one_for_one)
  end

  def start_worker(spec), do: DynamicSupervisor.start_child(MyApp.Pool, spec)
  def run(fun), do: Task.Supervisor.start_child(MyApp.Tasks, fun)

  def start_tasks do
    Task.Supervisor.start_link(name: MyApp.Tasks)
  end
end
`;

/** Starts children under POOL's two supervisors and handles {:error, _} at each start. */
export const WORK = `defmodule MyApp.Work do
  def run(job) do
    case MyApp.Pool.start_worker({MyApp.Job, job}) do
      {:ok, pid} -> {:ok, pid}
      {:error, _reason} -> :busy
    end
  end

  def later(fun) do
    case MyApp.Pool.run(fun) do
      {:ok, _pid} -> :ok
      {:error, reason} -> {:error, reason}
    end
  end
end
`;

/**
 * An application whose children list has one unbounded DynamicSupervisor, which MyApp.Sessions
 * starts children under, handling {:error, _} (one medium finding, fixable); "Café" keeps a non-ASCII string in play.
 */
export const APP = `defmodule MyApp.Application do
  use Application

  @impl true
  def start(_type, _args) do
    children = [
      {Registry, keys: :unique, name: MyApp.Registry},
      {DynamicSupervisor, name: MyApp.Sessions, strategy: :one_for_one}
    ]

    IO.puts("Café ☕ started")
    Supervisor.start_link(children, strategy: :one_for_one, name: MyApp.Supervisor)
  end
end

defmodule MyApp.Sessions do
  def open(user_id) do
    case DynamicSupervisor.start_child(MyApp.Sessions, {MyApp.Session, user_id}) do
      {:ok, pid} -> {:ok, pid}
      {:error, reason} -> {:error, reason}
    end
  end
end
`;

/** Already bounded: no finding. */
export const CLEAN = `defmodule MyApp.Clean do
  def start_link(_opts) do
    DynamicSupervisor.start_link(name: MyApp.Clean, strategy: :one_for_one, max_children: 10)
  end

  def open(spec) do
    case DynamicSupervisor.start_child(MyApp.Clean, spec) do
      {:ok, pid} -> {:ok, pid}
      {:error, _} -> :busy
    end
  end
end
`;
