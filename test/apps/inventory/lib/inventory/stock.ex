defmodule Inventory.Stock do
  @moduledoc """
  Stock levels synced from the warehouse, and reservations taken against them.
  """
  use GenServer

  alias Inventory.Warehouse

  def start_link(opts \\ []) do
    GenServer.start_link(__MODULE__, opts, name: __MODULE__)
  end

  @doc "Fetch the warehouse's level for `sku` and remember it."
  def sync(sku), do: GenServer.call(__MODULE__, {:sync, sku})

  @doc "Reserve `qty` units of `sku`."
  def reserve(sku, qty), do: GenServer.call(__MODULE__, {:reserve, sku, qty})

  @doc "Level and reserved units of `sku`."
  def status(sku), do: GenServer.call(__MODULE__, {:status, sku})

  @impl true
  def init(_opts) do
    {:ok, %{levels: %{}, reserved: %{}, syncs: 0}}
  end

  @impl true
  def handle_call({:sync, sku}, _from, state) do
    {reply, new_state} = sync_sku(state, sku)
    {:reply, reply, new_state}
  end

  def handle_call({:reserve, sku, qty}, _from, state) do
    reserved = Map.update(state.reserved, sku, qty, &(&1 + qty))
    {:reply, :ok, %{state | reserved: reserved}}
  end

  def handle_call({:status, sku}, _from, state) do
    status = %{
      level: Map.get(state.levels, sku),
      reserved: Map.get(state.reserved, sku, 0),
      syncs: state.syncs
    }

    {:reply, status, state}
  end

  defp sync_sku(state, sku) do
    case Warehouse.fetch_level(sku) do
      {:ok, level} ->
        {{:ok, level},
         %{state | levels: Map.put(state.levels, sku, level), syncs: state.syncs + 1}}

      {:error, reason} ->
        {{:error, reason}, state}
    end
  end
end
