# proof-of: unbounded-batch-call/batch-register
# options: {"maxBatch": 100}
#
# Runs the MABEAM.AgentRegistry that otpfix rewrote: a batch over the limit is refused with
# {:error, :batch_too_large} without touching the registry, a batch within it is registered, and
# a non-list still reaches the original clause (which does not match it, as before).
[dir] = System.argv()
Code.require_file(Path.join(dir, "batch-register.ex"))

{:ok, _} = MABEAM.AgentRegistry.start_link()
agent = fn i -> {"agent-#{i}", spawn(fn -> Process.sleep(:infinity) end), %{i: i}} end

{:error, :batch_too_large} = MABEAM.AgentRegistry.batch_register(Enum.map(1..101, agent))
[] = MABEAM.AgentRegistry.lookup("agent-1")

{:ok, 100} = MABEAM.AgentRegistry.batch_register(Enum.map(1..100, agent))
[{"agent-1", _pid, %{i: 1}}] = MABEAM.AgentRegistry.lookup("agent-1")

# Not a list: the guard fails, the new clause is skipped, and the call fails as it always did.
Process.flag(:trap_exit, true)

result =
  try do
    MABEAM.AgentRegistry.batch_register(:oops)
  catch
    :exit, reason -> {:exit, reason}
  end

{:exit, {{:function_clause, _}, _}} = result

IO.puts("unbounded-batch-call: 101 agents refused, 100 registered")
