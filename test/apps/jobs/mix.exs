defmodule Jobs.MixProject do
  use Mix.Project

  def project do
    [app: :jobs, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application do
    [extra_applications: [:logger], mod: {Jobs.Application, []}]
  end
end
