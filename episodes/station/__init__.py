"""The station: from a reporter's phone to listeners' apps with nobody at a desk.

`fieldreports station SHOW_DIR` runs one long-running process (uvicorn, through
`fieldreports.intake.serving`) serving one app (`app.Station`): tus uploads at /files/ by
reporter key, the phone page at /upload (`page`, `assets/`), a JSON status API at /api/reports
(`states`) and a health check at /api/health, the published folder at / (`site`), and beside
them two threads: the `processor`, which runs the pipeline whenever a report becomes complete
and keeps each report's state in the catalog, and the `notify` side, which sends signed webhooks
and WebSub pings from an outbox in the catalog without ever holding up publishing. Rate limits
are in `limits`; the commands in `commands`.

The pipeline's run function comes in as a parameter (`Station(config, run=run_show)`), so
nothing here imports `pipeline`. docs/station.md is the newsroom's guide.
"""
