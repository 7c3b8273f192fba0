defmodule TeleTest do
  use ExUnit.Case

  defp request(path),
    do: :telemetry.execute([:http, :request, :stop], %{duration: 1}, %{path: path})

  test "each module's handler sees every request" do
    before = Tele.RequestStats.count()
    request("/a")
    request("/b")
    assert Tele.RequestStats.count() == before + 2
    assert ["/b", "/a" | _] = Tele.RequestLog.paths()
  end
end
