defmodule JobsTest do
  use ExUnit.Case

  test "every parked job runs, however many there are" do
    ids = for i <- 1..1_500, do: Jobs.park(fn -> i * 2 end)
    assert length(Enum.uniq(ids)) == 1_500
    Jobs.run_all(self())

    results =
      for _ <- 1..1_500 do
        assert_receive {:done, _id, value}, 5_000
        value
      end

    assert Enum.sum(results) == Enum.sum(1..1_500) * 2
  end

  test "map runs every item, even a large list" do
    assert Jobs.map(1..1_200, fn i -> Process.sleep(50) && i end) == Enum.to_list(1..1_200)
  end
end
