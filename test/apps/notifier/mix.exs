defmodule Notifier.MixProject do
  use Mix.Project

  def project do
    [
      app: :notifier,
      version: "0.1.0",
      elixir: "~> 1.14",
      deps: [],
      config_path: "config/config.exs"
    ]
  end

  def application do
    [extra_applications: [:logger], mod: {Notifier.Application, []}]
  end
end
