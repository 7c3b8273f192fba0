defmodule Boot.Store do
  @moduledoc "The backing store's client: connecting is a slow round trip; it can be down."

  def connect(url) do
    Process.sleep(30)

    case :persistent_term.get({__MODULE__, :status}, :up) do
      :up -> {:ok, %{url: url, protocol: 3}}
      :down -> {:error, :econnrefused}
    end
  end

  def load_all(conn), do: Process.sleep(20) && %{"greeting" => "hello from #{conn.url}"}
end
