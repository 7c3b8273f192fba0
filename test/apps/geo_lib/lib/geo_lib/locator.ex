defmodule GeoLib.Locator do
  @moduledoc """
  Looks up the country of IP addresses with a geo-IP HTTP service, remembering the answers.

  Start it in your supervision tree: `{GeoLib.Locator, url: "https://geo.example", name: MyApp.Geo}`.
  """
  use GenServer

  def start_link(opts) do
    GenServer.start_link(__MODULE__, opts, name: Keyword.get(opts, :name, __MODULE__))
  end

  @doc "The country code of `ip`, asked once and then cached."
  def country(server \\ __MODULE__, ip), do: GenServer.call(server, {:country, ip})

  @doc "The country code of `ip`, asked again even if known."
  def ask(server \\ __MODULE__, ip), do: GenServer.call(server, {:ask, ip})

  @doc "How many lookups went to the service."
  def lookups(server \\ __MODULE__), do: GenServer.call(server, :lookups)

  @impl true
  def init(opts) do
    {:ok, %{url: Keyword.fetch!(opts, :url), cache: %{}, lookups: 0}}
  end

  @impl true
  def handle_call({:country, ip}, _from, %{cache: cache} = state) do
    case Map.fetch(cache, ip) do
      {:ok, country} ->
        {:reply, {:ok, country}, state}

      :error ->
        url = String.to_charlist("#{state.url}/#{ip}")
        state = %{state | lookups: state.lookups + 1}

        case :httpc.request(:get, {url, []}, [timeout: 15_000], body_format: :binary) do
          {:ok, {{_, 200, _}, _, body}} ->
            country = String.trim(body)
            {:reply, {:ok, country}, %{state | cache: Map.put(cache, ip, country)}}

          {:ok, {{_, status, _}, _, _}} ->
            {:reply, {:error, {:http_status, status}}, state}

          {:error, reason} ->
            {:reply, {:error, reason}, state}
        end
    end
  end

  def handle_call({:ask, ip}, _from, state) do
    reply = fetch(state.url, ip)
    {:reply, reply, state}
  end

  def handle_call(:lookups, _from, state), do: {:reply, state.lookups, state}

  defp fetch(base_url, ip) do
    case :httpc.request(:get, {String.to_charlist("#{base_url}/#{ip}"), []}, [timeout: 15_000],
           body_format: :binary
         ) do
      {:ok, {{_, 200, _}, _, body}} -> {:ok, String.trim(body)}
      {:ok, {{_, status, _}, _, _}} -> {:error, {:http_status, status}}
      {:error, reason} -> {:error, reason}
    end
  end
end
