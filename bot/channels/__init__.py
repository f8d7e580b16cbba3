"""Channels: each verifies a request, parses it into `Inbound`, and renders replies."""
