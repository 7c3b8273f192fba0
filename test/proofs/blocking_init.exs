# proof-of: blocking-init/validated-load
#
# Runs the Search.Index that otpfix rewrote. Loading the documents takes 500 ms. After the rewrite
# start_link returns at once, yet what callers observe is kept: bad options still fail the start
# with {:error, _} (the check stayed in init/1), the name is registered when start_link returns,
# calls and casts sent while handle_continue/2 loads queue behind it and see the loaded index, and a
# load that crashes still takes the process down with its reason.
[dir] = System.argv()

defmodule Search.Document do
  defstruct [:id, :text]
end

defmodule Search.Repo do
  def all(Search.Document) do
    case :persistent_term.get(:repo_mode, :up) do
      :up ->
        Process.sleep(500)
        [%Search.Document{id: 1, text: "otp supervision"}, %Search.Document{id: 2, text: "ets tables"}]

      :down ->
        Process.sleep(50)
        raise "database unavailable"
    end
  end
end

Code.require_file(Path.join(dir, "validated-load.ex"))
Process.flag(:trap_exit, true)

# Bad options: the start fails, as before, and nothing stays registered.
{:error, {%ArgumentError{}, _stack}} = Search.Index.start_link(name: :bad, languages: [])
nil = Process.whereis(:bad)
{:error, {%ArgumentError{}, _stack}} = Search.Index.start_link(name: :bad2, languages: :en)

# start_link returns before the load; the name is already registered.
{micros, {:ok, pid}} = :timer.tc(fn -> Search.Index.start_link(name: :index) end)
ms = div(micros, 1000)
if ms > 200, do: raise("start_link took #{ms} ms; the 500 ms load still runs inside init/1")
^pid = Process.whereis(:index)

# While handle_continue/2 loads: a cast and 20 concurrent callers. None sees a half-built state.
Search.Index.add(:index, 3, "otp release")

results =
  1..20
  |> Enum.map(fn _ -> Task.async(fn -> Search.Index.search(:index, "otp") end) end)
  |> Task.await_many(5_000)

[[1, 3]] = Enum.uniq(results)
[2] = Search.Index.search(:index, "ets")

# A load that crashes takes the started process down with the crash, as the supervisor expects.
:persistent_term.put(:repo_mode, :down)
{:ok, doomed} = Search.Index.start_link(name: :doomed)

receive do
  {:EXIT, ^doomed, {%RuntimeError{message: "database unavailable"}, _}} -> :ok
after
  2_000 -> raise "the crashing load did not stop the process"
end

IO.puts("blocking-init: bad options still fail the start; start_link returned in #{ms} ms; callers during the load saw the loaded index")
