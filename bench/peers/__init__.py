"""``python -m bench.peers``: the job system next to raw SAQ (Redis, Postgres), arq and RQ."""
