defmodule Boot.Catalog do
  @moduledoc "A read-mostly catalog loaded from the store when the server starts."
  use GenServer

  def start_link(opts) do
    GenServer.start_link(__MODULE__, opts, name: Keyword.get(opts, :name, __MODULE__))
  end

  def lookup(server \\ __MODULE__, key), do: GenServer.call(server, {:lookup, key})

  def put(server \\ __MODULE__, key, value), do: GenServer.cast(server, {:put, key, value})

  @impl true
  def init(opts) do
    unless is_binary(opts[:url]), do: raise(ArgumentError, "Boot.Catalog needs a :url")
    {:ok, conn} = Boot.Store.connect(opts[:url])
    entries = Boot.Store.load_all(conn)
    {:ok, %{entries: entries}}
  end

  @impl true
  def handle_call({:lookup, key}, _from, state),
    do: {:reply, Map.fetch(state.entries, key), state}

  @impl true
  def handle_cast({:put, key, value}, state) do
    {:noreply, %{state | entries: Map.put(state.entries, key, value)}}
  end
end
