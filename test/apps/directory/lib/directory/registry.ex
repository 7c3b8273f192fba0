defmodule Directory.Registry do
  @moduledoc "Who is where: agents register in batches when a node joins."
  use GenServer

  def start_link(_opts), do: GenServer.start_link(__MODULE__, :ok, name: __MODULE__)

  @doc "Register many agents at once; replies `{:ok, count}`."
  def register_many(agents) when is_list(agents),
    do: GenServer.call(__MODULE__, {:register_many, agents}, 30_000)

  def lookup(id), do: GenServer.call(__MODULE__, {:lookup, id})

  @impl true
  def init(:ok), do: {:ok, %{agents: %{}}}

  @impl true
  def handle_call({:register_many, agents}, _from, state) do
    registered =
      Enum.reduce(agents, state.agents, fn %{id: id} = agent, acc ->
        Map.put(acc, id, Map.put(agent, :registered_at, System.system_time(:millisecond)))
      end)

    {:reply, {:ok, length(agents)}, %{state | agents: registered}}
  end

  def handle_call({:lookup, id}, _from, state), do: {:reply, Map.fetch(state.agents, id), state}
end
