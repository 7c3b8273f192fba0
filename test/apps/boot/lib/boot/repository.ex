defmodule Boot.Repository do
  @moduledoc """
  Holds a connection to the store. Starting fails fast when the options are wrong or the store is
  down, so that the supervisor (and the release's boot) sees the problem at once.
  """
  use GenServer

  require Logger

  def start_link(opts) do
    GenServer.start_link(__MODULE__, opts, name: Keyword.get(opts, :name, __MODULE__))
  end

  def url(server \\ __MODULE__), do: GenServer.call(server, :url)

  @impl true
  def init(opts) do
    with {:ok, url} <- Keyword.fetch(opts, :url),
         true <- is_binary(url) || {:error, {:invalid_option, :url}},
         {:ok, conn} <- Boot.Store.connect(url),
         :ok <- check_protocol(conn) do
      {:ok, %{conn: conn, started_at: System.monotonic_time()}}
    else
      :error -> {:stop, {:missing_option, :url}}
      {:error, reason} -> {:stop, reason}
    end
  end

  @impl true
  def handle_call(:url, _from, state), do: {:reply, state.conn.url, state}

  @impl true
  def terminate(reason, state) do
    Logger.debug("repository for #{state.conn.url} stopping: #{inspect(reason)}")
  end

  defp check_protocol(%{protocol: 3}), do: :ok
  defp check_protocol(_conn), do: {:error, :unsupported_protocol}
end
