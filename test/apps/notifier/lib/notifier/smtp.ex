defmodule Notifier.Smtp do
  @moduledoc "Talks to the mail relay (a slow network round trip in production)."

  def deliver(%{to: to} = message) when is_binary(to) do
    :timer.sleep(10)
    {:ok, "queued as #{:erlang.phash2({to, message.subject})}"}
  end

  def deliver(_message), do: {:error, :no_recipient}
end
