defmodule Telemetry.MixProject do
  use Mix.Project

  # A minimal stand-in for the telemetry library (nothing can be fetched from Hex here).
  def project, do: [app: :telemetry, version: "1.0.0", elixir: "~> 1.14", deps: []]
  def application, do: [extra_applications: []]
end
