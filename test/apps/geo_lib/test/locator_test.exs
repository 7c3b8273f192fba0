defmodule GeoLib.LocatorTest do
  use ExUnit.Case

  alias GeoLib.Locator

  defp url, do: Application.fetch_env!(:geo_lib, :test_url)

  describe "a named locator" do
    setup do
      start_supervised!({Locator, url: url(), name: :locator_under_test})
      %{server: :locator_under_test}
    end

    test "looks up and caches", %{server: server} do
      assert Locator.country(server, "10.0.0.1") == {:ok, "NL"}
      assert Locator.country(server, "10.0.0.1") == {:ok, "NL"}
      assert Locator.lookups(server) == 1
    end

    test "unknown addresses are errors, not crashes", %{server: server} do
      assert Locator.country(server, "10.9.9.9") == {:error, {:http_status, 404}}
      assert Locator.country(server, "10.0.0.2") == {:ok, "BR"}
    end

    test "ask always asks the service", %{server: server} do
      assert Locator.ask(server, "10.0.0.1") == {:ok, "NL"}
      assert Locator.ask(server, "10.9.9.9") == {:error, {:http_status, 404}}
    end

    test "concurrent callers all get answers", %{server: server} do
      tasks =
        for i <- 1..50,
            do: Task.async(fn -> Locator.country(server, "10.0.0.#{rem(i, 2) + 1}") end)

      assert Enum.sort(Enum.uniq(Task.await_many(tasks))) == [{:ok, "BR"}, {:ok, "NL"}]
    end
  end

  test "works under the default name" do
    start_supervised!({Locator, url: url()})
    assert Locator.country("10.0.0.2") == {:ok, "BR"}
  end
end
