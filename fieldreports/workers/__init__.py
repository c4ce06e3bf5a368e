"""The remote stages on Celery workers: Redis as broker, the shared catalog, shared storage.

One generic task, `run_stage(stage_name, job_json)`, runs any stage of
`fieldreports.stages.REMOTE_STAGES` (normalise, transcribe) on a worker, with the same function
a local run calls: it decodes the job (`catalog.serialise`), finds the result in the catalog
under `Stage.key(job)` or makes it, moves its files into the work storage, stores the result and
logs the work. So a task sent twice does the work once, and a worker killed halfway loses
nothing but its own time: the broker hands the task to another worker.

    app        the Celery app from show.toml's [queue]: acks late, requeue on a lost worker,
               one task prefetched, the Redis visibility timeout, results read by polling
    storage    how a job's files travel: the show folder on a shared disk, or a private S3 prefix
    tasks      run_stage and the worker process (`fieldreports worker SHOW_DIR`)
    executor   CeleryExecutor: `run` sends tasks and waits, as LocalExecutor runs them here

Celery is an optional extra (`pip install "fieldreports[workers]"`), imported only when a broker
is configured. docs/scaling.md tells how to set it up and what each setting trades.
"""
