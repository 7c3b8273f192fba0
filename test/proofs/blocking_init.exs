# proof-of: blocking-init/price-cache-stop
#
# Runs the Catalog.PriceCache that otpfix rewrote. Loading prices takes 600 ms. After the rewrite
# start_link returns at once, the load still happens (before any call is served), and a failed
# load still stops the process with the original reason.
[dir] = System.argv()

defmodule Catalog.PriceSource do
  def all_prices do
    Process.sleep(600)
    [{"sku-1", 1299}, {"sku-2", 450}]
  end
end

defmodule Catalog.HangingSource do
  def all_prices, do: Process.sleep(:infinity)
end

Code.require_file(Path.join(dir, "price-cache-stop.ex"))

{micros, {:ok, pid}} = :timer.tc(fn -> Catalog.PriceCache.start_link(name: :prices) end)
ms = div(micros, 1000)
if ms > 150, do: raise("start_link took #{ms} ms; the 600 ms load still runs inside init/1")

# The first call queues behind the continuation: it sees the loaded prices, never a nil state.
{call_us, {:ok, 1299}} = :timer.tc(fn -> Catalog.PriceCache.price(:prices, "sku-1") end)
true = call_us > 300_000
%{prices: %{"sku-2" => 450}, source: Catalog.PriceSource} = :sys.get_state(pid)

# A load that times out stops the started process with the reason init/1 used to return.
Process.flag(:trap_exit, true)
{:ok, slow} = Catalog.PriceCache.start_link(name: :slow, source: Catalog.HangingSource, timeout: 100)

receive do
  {:EXIT, ^slow, {:price_load_failed, :timeout}} -> :ok
after
  2_000 -> raise "the failed load did not stop the process"
end

IO.puts("blocking-init: start_link returned in #{ms} ms; prices loaded after; a failed load stops the process")
