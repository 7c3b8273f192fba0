# proof-of: blocking-handle-call/price-feed
#
# Runs the Shop.PriceFeed that otpfix rewrote against a real HTTP server on loopback whose every
# answer takes 200 ms: ten concurrent fetches finish in well under 10 x 200 ms, a cheap call is
# answered while they are in flight, and the statistics the server keeps from each result are
# still updated (in the server process).
[dir] = System.argv()
Code.require_file(Path.join(dir, "application.ex"))
Code.require_file(Path.join(dir, "price_feed.ex"))
{:ok, _} = Application.ensure_all_started(:inets)
{:ok, _} = Application.ensure_all_started(:logger)
Logger.configure(level: :error)

defmodule SlowHTTP do
  # A minimal HTTP/1.1 server: /prices/<sku> answers after 200 ms; /prices/missing is a 404.
  def start do
    {:ok, listen} = :gen_tcp.listen(0, [:binary, active: false, reuseaddr: true, backlog: 128, ip: {127, 0, 0, 1}])
    {:ok, port} = :inet.port(listen)
    spawn(fn -> accept(listen) end)
    port
  end

  defp accept(listen) do
    {:ok, socket} = :gen_tcp.accept(listen)
    pid = spawn(fn -> serve(socket) end)
    :ok = :gen_tcp.controlling_process(socket, pid)
    accept(listen)
  end

  defp serve(socket) do
    {:ok, request} = :gen_tcp.recv(socket, 0)
    [_, path | _] = String.split(request, " ", parts: 3)
    Process.sleep(200)
    {status, body} = if path == "/prices/missing", do: {"404 Not Found", "no"}, else: {"200 OK", "42"}
    :gen_tcp.send(socket, "HTTP/1.1 #{status}\r\ncontent-length: #{byte_size(body)}\r\nconnection: close\r\n\r\n#{body}")
    :gen_tcp.close(socket)
  end
end

port = SlowHTTP.start()
# :httpc itself allows 2 sessions per host by default; lift that so only the server could serialize.
:ok = :httpc.set_options(max_sessions: 50, max_keep_alive_length: 0)

# The application otpfix rewrote now starts Shop.TaskSupervisor; run its tree, then point the
# price feed at the slow server.
{:ok, _} = Shop.Application.start(:normal, [])
task_supervisor = Process.whereis(Shop.TaskSupervisor)
true = is_pid(task_supervisor) and task_supervisor in Enum.map(Supervisor.which_children(Shop.Supervisor), &elem(&1, 1))
:ok = Supervisor.terminate_child(Shop.Supervisor, Shop.PriceFeed)
{:ok, _} = GenServer.start_link(Shop.PriceFeed, [base_url: "http://127.0.0.1:#{port}"], name: Shop.PriceFeed)

# 10 concurrent slow calls.
{elapsed_us, results} =
  :timer.tc(fn ->
    1..10
    |> Enum.map(fn i -> Task.async(fn -> Shop.PriceFeed.fetch("sku-#{i}") end) end)
    |> Task.await_many(5_000)
  end)

true = Enum.all?(results, &(&1 == {:ok, "42"}))
elapsed_ms = div(elapsed_us, 1000)
if elapsed_ms >= 1000, do: raise("10 x 200 ms calls took #{elapsed_ms} ms: still serialized")

# A cheap call is answered while slow calls are in flight.
slow = for i <- 1..5, do: Task.async(fn -> Shop.PriceFeed.fetch("slow-#{i}") end)
Process.sleep(20)
{cheap_us, stats} = :timer.tc(fn -> Shop.PriceFeed.stats() end)
if cheap_us > 150_000, do: raise("stats waited #{div(cheap_us, 1000)} ms behind slow calls")
%{fetched: 10, failed: 0} = stats
Task.await_many(slow, 5_000)

# State updates from results still happen in the server, for successes and failures.
{:error, {:http_status, 404}} = Shop.PriceFeed.fetch("missing")
%{fetched: 15, failed: 1} = Shop.PriceFeed.stats()

IO.puts("deferred reply: 10 x 200 ms calls in #{elapsed_ms} ms; stats answered in #{div(cheap_us, 1000)} ms; state updated")
