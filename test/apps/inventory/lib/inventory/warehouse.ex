defmodule Inventory.Warehouse do
  @moduledoc "Client of the warehouse's HTTP API."

  @doc "The stock level the warehouse reports for `sku`."
  def fetch_level(sku) do
    url = String.to_charlist("#{base_url()}/levels/#{sku}")

    case :httpc.request(:get, {url, []}, [timeout: 15_000], body_format: :binary) do
      {:ok, {{_, 200, _}, _headers, body}} -> {:ok, body |> String.trim() |> String.to_integer()}
      {:ok, {{_, status, _}, _headers, _body}} -> {:error, {:http_status, status}}
      {:error, reason} -> {:error, reason}
    end
  end

  defp base_url, do: Application.fetch_env!(:inventory, :warehouse_url)
end
