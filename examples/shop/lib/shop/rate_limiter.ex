defmodule Shop.RateLimiter do
  @moduledoc """
  Fixed-window rate limiting per client. Buckets live in ETS, keyed by client and window.
  """
  use GenServer

  @table :shop_rate_buckets
  @window_ms 60_000

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

  def allow?(client_id, limit) do
    GenServer.call(__MODULE__, {:hit, client_id, limit})
  end

  @impl true
  def init(_opts) do
    table = :ets.new(@table, [:set, :protected, :named_table])
    {:ok, %{table: table, denied: 0}}
  end

  @impl true
  def handle_call({:hit, client_id, limit}, _from, state) do
    window = div(System.system_time(:millisecond), @window_ms)
    key = {client_id, window}
    count = :ets.update_counter(@table, key, 1, {key, 0})

    if count > limit do
      {:reply, false, %{state | denied: state.denied + 1}}
    else
      {:reply, true, state}
    end
  end
end
