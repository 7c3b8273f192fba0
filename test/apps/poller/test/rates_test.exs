defmodule Poller.RatesTest do
  use ExUnit.Case

  alias Poller.Rates

  defp feed, do: Application.fetch_env!(:poller, :feed_path)

  # The server may be restarting after a crash: a call that exits counts as "not yet".
  defp current do
    Rates.current()
  catch
    :exit, _ -> %{rates: nil, refreshes: -1}
  end

  defp wait_until(fun, deadline \\ 3_000) do
    cond do
      fun.() -> :ok
      deadline <= 0 -> flunk("condition not met in time")
      true -> Process.sleep(10) && wait_until(fun, deadline - 10)
    end
  end

  test "refreshes keep coming on the interval" do
    File.write!(feed(), "1,2,3\n")
    wait_until(fn -> current().rates == [1, 2, 3] end)
    %{refreshes: n} = current()
    wait_until(fn -> current().refreshes >= n + 3 end)
    assert current().rates == [1, 2, 3]
  end

  test "the loop survives a failing refresh and picks up new rates afterwards" do
    File.write!(feed(), "fail:4,5\n")
    wait_until(fn -> current().rates == [4, 5] end)
    %{refreshes: n} = current()
    wait_until(fn -> current().refreshes >= n + 3 end)
    assert current().rates == [4, 5]
  end
end
