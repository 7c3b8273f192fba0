# proof-of: self-call/self-pid
#
# Runs the Jobs.Queue that otpfix rewrote. The original handle_cast({:push, job}) asked its own
# process for the queue size with GenServer.call(self(), :size), which exits with :calling_self and
# kills the server on the first push. After the rewrite pushes are queued, the server stays up, and
# :size still answers callers.
[dir] = System.argv()
Code.require_file(Path.join(dir, "self-pid.ex"))
Process.flag(:trap_exit, true)

{:ok, queue} = Jobs.Queue.start_link([:a])
for job <- [:b, :c], do: GenServer.cast(queue, {:push, job})

3 = GenServer.call(queue, :size)

receive do
  {:EXIT, ^queue, reason} -> raise "the queue died: #{inspect(reason)}"
after
  0 -> :ok
end

true = Process.alive?(queue)
IO.puts("self-call: pushes handled without a call to self; size answers 3")
