defmodule Inventory.StockTest do
  use ExUnit.Case

  alias Inventory.Stock

  test "sync reports and remembers the warehouse level" do
    assert Stock.sync("apple") == {:ok, 42}
    assert %{level: 42} = Stock.status("apple")
  end

  test "a failed sync replies with the error and keeps the state" do
    assert {:error, {:http_status, 404}} = Stock.sync("plum")
    assert %{level: nil} = Stock.status("plum")
  end

  test "reservations taken while syncs are in flight are never lost" do
    syncs = for _ <- 1..20, do: Task.async(fn -> Stock.sync("pear") end)
    reserves = for _ <- 1..200, do: Task.async(fn -> Stock.reserve("pear", 1) end)
    assert Enum.all?(Task.await_many(syncs, 10_000), &(&1 == {:ok, 7}))
    assert Enum.all?(Task.await_many(reserves, 10_000), &(&1 == :ok))
    status = Stock.status("pear")
    assert status.reserved == 200
    assert status.level == 7
  end

  test "every sync is counted" do
    %{syncs: before} = Stock.status("apple")
    tasks = for _ <- 1..10, do: Task.async(fn -> Stock.sync("apple") end)
    Task.await_many(tasks, 10_000)
    assert %{syncs: after_syncs} = Stock.status("apple")
    assert after_syncs == before + 10
  end
end
