defmodule Fanout.RouterTest do
  use ExUnit.Case

  alias Fanout.Router

  test "a slow subscriber still gets every event, in order" do
    Router.subscribe()
    for i <- 1..20_000, do: Router.publish({:credit, i})
    # Only now start reading: the mailbox is long, and that is fine for a ledger.
    Process.sleep(200)

    assert drain([]) == Enum.to_list(1..20_000)
  end

  # Stops at the first gap, so a lost event fails the test quickly instead of waiting for each one.
  defp drain(acc) do
    receive do
      {:ledger_event, {:credit, i}} -> drain([i | acc])
    after
      1_000 -> Enum.reverse(acc)
    end
  end

  test "dead subscribers are forgotten" do
    pid = spawn(fn -> Router.subscribe() end)
    ref = Process.monitor(pid)
    assert_receive {:DOWN, ^ref, _, _, _}
    Router.publish(:ping)
    assert :sys.get_state(Router).subscribers |> MapSet.member?(pid) == false
  end
end
