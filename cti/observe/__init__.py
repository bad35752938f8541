"""Operating the server: metrics, readiness and structured logs."""
