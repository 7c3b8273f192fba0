defmodule Shop.PriceFeed do
  @moduledoc """
  Fetches supplier prices over HTTP and keeps request statistics.
  """
  use GenServer

  require Logger

  def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: __MODULE__)

  def fetch(sku), do: GenServer.call(__MODULE__, {:fetch, sku})

  def stats, do: GenServer.call(__MODULE__, :stats)

  @impl true
  def init(opts) do
    base_url = Keyword.get(opts, :base_url, "http://localhost:4001")
    {:ok, %{base_url: base_url, fetched: 0, failed: 0}}
  end

  @impl true
  def handle_call({:fetch, sku}, _from, state) do
    url = "#{state.base_url}/prices/#{sku}"
    result = request(url)
    {:reply, result, count(state, result)}
  end

  def handle_call(:stats, _from, state) do
    {:reply, Map.take(state, [:fetched, :failed]), state}
  end

  defp request(url) do
    case :httpc.request(:get, {String.to_charlist(url), []}, [timeout: 5_000], []) do
      {:ok, {{_, 200, _}, _headers, body}} -> {:ok, List.to_string(body)}
      {:ok, {{_, status, _}, _headers, _body}} -> {:error, {:http_status, status}}
      {:error, reason} -> {:error, reason}
    end
  end

  defp count(state, {:ok, _}), do: %{state | fetched: state.fetched + 1}

  defp count(state, {:error, reason}) do
    Logger.warning("price fetch failed: #{inspect(reason)}")
    %{state | failed: state.failed + 1}
  end
end
