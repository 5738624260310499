# newscrawl in a container: `docker run IMAGE daemon`, `... worker`, `... crawl SITE`.
# docker-compose.yml runs it with PostgreSQL and Redis (docs/daemon.md, "In a container").
# tests/test_containers.py checks this file against the repository.

# Stage 1: the newscrawl wheel, built from the package sources alone.
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY crawler ./crawler
COPY pipelines ./pipelines
COPY settings ./settings
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Stage 2: the image.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The dependencies (with the postgres and distributed extras), read from
# pyproject.toml alone: this layer is built again only when pyproject.toml
# changes, not at every change of the code.
COPY pyproject.toml /tmp/newscrawl/pyproject.toml
RUN python -c "import tomllib; p = tomllib.load(open('/tmp/newscrawl/pyproject.toml', 'rb'))['project']; x = p['optional-dependencies']; print(*p['dependencies'], *x['postgres'], *x['distributed'], sep='\n')" > /tmp/newscrawl/requirements.txt \
 && pip install --no-cache-dir --requirement /tmp/newscrawl/requirements.txt \
 && rm -r /tmp/newscrawl

COPY --from=wheel /wheels /tmp/wheels
# pip check: the requirements above are the ones the wheel declares.
RUN pip install --no-cache-dir --no-deps /tmp/wheels/*.whl \
 && rm -r /tmp/wheels \
 && pip check

# A user of its own (nobody's home is not writable), and one volume for
# everything the daemon, the workers and the crawls write: the spool (what a
# crawl scraped while the database was unreachable), the crawl logs, and a
# SQLite archive when NEWSCRAWL_DATABASE_URL is not set (the working folder).
RUN groupadd --system --gid 10001 newscrawl \
 && useradd --system --uid 10001 --gid newscrawl --create-home --home-dir /home/newscrawl \
        --shell /usr/sbin/nologin newscrawl \
 && mkdir -p /var/lib/newscrawl/spool /var/lib/newscrawl/logs \
 && chown -R newscrawl:newscrawl /var/lib/newscrawl
ENV HOME=/home/newscrawl \
    NEWSCRAWL_SPOOL_DIR=/var/lib/newscrawl/spool \
    NEWSCRAWL_LOG_DIR=/var/lib/newscrawl/logs
VOLUME ["/var/lib/newscrawl"]
WORKDIR /var/lib/newscrawl
USER 10001:10001

# The exec form: no shell between Docker and newscrawl to swallow SIGTERM.
ENTRYPOINT ["newscrawl"]
CMD ["--help"]
