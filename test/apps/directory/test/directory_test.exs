defmodule DirectoryTest do
  use ExUnit.Case

  test "a big node joins in one call" do
    assert Directory.join("big", 20_000) == :ok
    assert {:ok, %{node: "big"}} = Directory.Registry.lookup("big/20000")
  end

  test "register_many replies with the count" do
    agents = for i <- 1..5_000, do: %{id: "direct/#{i}"}
    assert Directory.Registry.register_many(agents) == {:ok, 5_000}
    assert {:ok, %{id: "direct/1"}} = Directory.Registry.lookup("direct/1")
  end
end
