defmodule Tele.MixProject do
  use Mix.Project

  def project do
    [
      app: :tele,
      version: "0.1.0",
      elixir: "~> 1.14",
      deps: [{:telemetry, path: "deps/telemetry"}]
    ]
  end

  def application do
    [extra_applications: [:logger], mod: {Tele.Application, []}]
  end
end
