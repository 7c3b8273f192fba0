# proof-of: telemetry-handler-leak/shared-prefix
#
# Runs the two modules otpfix rewrote. Both attach a handler to the same event with ids that shared a
# prefix ("http-request-#{inspect(pid)}"). A stable id derived from the prefix alone would be the same
# for both, and each module's detach-before-attach would remove the other's handler. Shown here: after
# both start, and after each is killed and restarted (terminate/2 does not run), exactly one handler
# per module is attached and every event reaches both running servers.
[dir] = System.argv()
Code.require_file(Path.join(__DIR__, "support/telemetry.exs"))
Code.require_file(Path.join(dir, "request_log.ex"))
Code.require_file(Path.join(dir, "request_stats.ex"))
Process.flag(:trap_exit, true)

event = [:http, :request, :stop]
request = fn path -> :ok = :telemetry.execute(event, %{duration: 1}, %{path: path}) end

restart = fn mod ->
  if pid = Process.whereis(mod) do
    ref = Process.monitor(pid)
    Process.exit(pid, :kill)

    receive do
      {:DOWN, ^ref, _, _, _} -> :ok
    end
  end

  {:ok, pid} = mod.start_link([])
  pid
end

check = fn label, expected_count ->
  handlers = :telemetry.list_handlers(event)

  if length(handlers) != 2,
    do: raise("#{label}: #{length(handlers)} handlers attached, expected one per module: #{inspect(handlers)}")

  request.("/#{label}")
  count = Tele.RequestStats.count()
  paths = Tele.RequestLog.paths()
  if count != expected_count, do: raise("#{label}: RequestStats counted #{count}, expected #{expected_count}")
  if hd(paths) != "/#{label}", do: raise("#{label}: RequestLog did not see the event: #{inspect(paths)}")
end

restart.(Tele.RequestLog)
restart.(Tele.RequestStats)
check.("both-started", 1)

# RequestStats restarts: its detach must not remove RequestLog's handler, nor leave its own old one.
restart.(Tele.RequestStats)
check.("stats-restarted", 1)

# RequestLog restarts after it.
restart.(Tele.RequestLog)
check.("log-restarted", 2)

for _ <- 1..3, do: restart.(Tele.RequestLog)
for _ <- 1..3, do: restart.(Tele.RequestStats)
check.("many-restarts", 1)
IO.puts("two modules with a shared id prefix: one handler each after every restart, both fire")
