# Checks fixture outputs with the real Elixir toolchain. Reads a manifest of "before<TAB>after" lines
# (absolute paths; `before` may be "-") and prints one line per after file:
#   OK <after>
#   FAIL <after> <TAB> <reason>
# Checks: the after file parses (Code.string_to_quoted!/1); it is a fixed point of Code.format_string!/1
# when its before file was (always, with --strict-format); it compiles without warnings its before
# file did not have.
ExUnit.start(autorun: false)
Code.put_compiler_option(:ignore_module_conflict, true)

defmodule FixtureCheck do
  def formatted?(src), do: IO.iodata_to_binary([Code.format_string!(src), "\n"]) == src

  # Compile and unload; return {:ok, warnings} or {:error, message}.
  def compile(src, path) do
    parent = self()

    stderr =
      ExUnit.CaptureIO.capture_io(:stderr, fn ->
        result =
          try do
            modules = Code.compile_string(src, path)
            for {mod, _} <- modules, do: :code.purge(mod) && :code.delete(mod)
            :ok
          rescue
            e -> {:error, Exception.message(e)}
          end

        send(parent, {:compiled, result})
      end)

    receive do
      {:compiled, :ok} -> {:ok, warnings(stderr)}
      {:compiled, error} -> error
    end
  end

  def missing_modules(warnings), do: warnings |> Enum.map(&missing_module/1) |> Enum.reject(&is_nil/1)

  def missing_module(warning) do
    case Regex.run(~r/\(module (\S+) is not available/, warning) do
      [_, mod] -> mod
      _ -> nil
    end
  end

  # Warning texts without their locations (line numbers move when code is inserted).
  defp warnings(stderr) do
    stderr
    |> String.split(~r/(?=warning: )/, trim: true)
    |> Enum.map(fn w -> w |> String.split("\n") |> hd() |> String.trim() end)
    |> Enum.filter(&String.starts_with?(&1, "warning: "))
    |> Enum.sort()
  end
end

{flags, [manifest]} = Enum.split_with(System.argv(), &String.starts_with?(&1, "--"))
strict_format = "--strict-format" in flags

for line <- File.read!(manifest) |> String.split("\n", trim: true) do
  [before, after_path] = String.split(line, "\t")
  after_src = File.read!(after_path)
  before_src = if before == "-", do: nil, else: File.read!(before)

  reason =
    try do
      Code.string_to_quoted!(after_src, file: after_path)

      cond do
        (strict_format or (before_src && FixtureCheck.formatted?(before_src))) &&
            not FixtureCheck.formatted?(after_src) ->
          "not laid out as `mix format` would:\n" <>
            IO.iodata_to_binary(Code.format_string!(after_src))

        true ->
          before_result = if before_src, do: FixtureCheck.compile(before_src, before), else: {:ok, []}

          case {before_result, FixtureCheck.compile(after_src, after_path)} do
            {{:ok, old}, {:ok, new}} ->
              # A dependency the before file already calls (module not available here, e.g.
              # :telemetry) is not a new problem when the fix calls another of its functions.
              deps = FixtureCheck.missing_modules(old)

              case Enum.reject(new -- old, &(FixtureCheck.missing_module(&1) in deps)) do
                [] -> nil
                added -> "new compiler warnings: " <> Enum.join(added, " | ")
              end

            {{:ok, _}, {:error, msg}} ->
              "does not compile: " <> msg

            _ ->
              nil
          end
      end
    rescue
      e -> "does not parse: " <> Exception.message(e)
    end

  if reason,
    do: IO.puts("FAIL #{after_path}\t#{String.replace(reason, "\n", "\\n")}"),
    else: IO.puts("OK #{after_path}")
end
