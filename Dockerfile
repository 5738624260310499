# newscrawl in a container: `docker run IMAGE daemon`, `... worker`, `... crawl SITE`.
FROM python:3.11-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir '.[postgres,distributed]'
USER nobody
# The exec form: no shell between Docker and newscrawl to swallow SIGTERM.
ENTRYPOINT ["newscrawl"]
CMD ["--help"]
