"""The one test harness shared by the integration, end-to-end and deploy tests and by the benchmarks.

- `ports`: free local ports.
- `waiting`: wait for a condition with a timeout and a message that says what was awaited.
- `processes`: `runflow worker` / `runflow web` / `runflow up` and the Temporal dev server as child processes,
  each ready only when its health check says so (web: GET /healthz; worker: Temporal lists its pollers on both
  task queue types; dev server: a client connects), never by reading its log.
- `plans`: plan factories, in days (`plan_at`, for the time-skipping server) and in seconds (`plan_in_seconds`,
  for processes on the real clock).
"""
