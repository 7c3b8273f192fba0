defmodule GeoLib.MixProject do
  use Mix.Project

  # A library: no application callback module; users start GeoLib.Resolver in their own tree.
  def project do
    [app: :geo_lib, version: "0.1.0", elixir: "~> 1.14", deps: []]
  end

  def application do
    [extra_applications: [:logger, :inets]]
  end
end
