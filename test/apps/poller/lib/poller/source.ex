defmodule Poller.Source do
  @moduledoc """
  The upstream rates feed. In production a slow HTTP endpoint; here its answers come from a file
  that tests can change (or make fail).
  """

  def fetch_rates do
    path = Application.fetch_env!(:poller, :feed_path)
    # The feed answers after a while, like the real endpoint.
    Process.sleep(20)

    case File.read!(path) do
      # A transient outage: this request fails, the next one gets the rates after "fail".
      "fail:" <> next ->
        File.write!(path, next)
        raise "feed unavailable"

      body ->
        body |> String.trim() |> String.split(",") |> Enum.map(&String.to_integer/1)
    end
  end
end
