defmodule Directory.MixProject do
  use Mix.Project

  def project do
    [app: :directory, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application do
    [extra_applications: [:logger], mod: {Directory.Application, []}]
  end
end
