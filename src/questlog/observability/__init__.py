"""What a running questlog says about itself: metrics, logs and traces.

One concept per module:

* `metrics.py`: the Prometheus families the library records into (plain counters and
  histograms on the hot path: a few per writer batch, never a lock per event);
* `store_metrics.py`: the families read from a store at scrape time (projector
  positions, lag, parked state, the writer's queue), shared by `/metrics` and
  `questlog stats`;
* `batches.py`: what the writer reports after each batch (outcomes, sizes, latency);
* `operation.py`: an operation that is traced, timed and logged when slow;
* `tracing.py`: OpenTelemetry spans through `opentelemetry-api` only (no-ops until the
  user installs an SDK and sets a tracer provider);
* `logs.py`: the one logging set-up of every entry point (text on a terminal, JSON lines
  otherwise), with request and correlation ids;
* `startup.py`: the start-up line (backend, driver, SQLite, sqlite-vec, schema).
"""
