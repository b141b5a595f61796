# tgwatch service image: slim Python, non-root, state in the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TGWATCH_DATABASE_PATH=/data/tgwatch.db \
    TGWATCH_TELEGRAM_SESSION_PATH=/data/user.session \
    TGWATCH_TELEGRAM_BOT_SESSION_PATH=/data/bot.session

RUN groupadd --system --gid 10001 tgwatch \
 && useradd --system --uid 10001 --gid tgwatch --home-dir /app --shell /usr/sbin/nologin tgwatch \
 && mkdir -p /data /app && chown tgwatch:tgwatch /data

WORKDIR /app
# Same install as the Makefile: pip from pyproject.toml (dependencies first, for layer caching).
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY config ./config
RUN pip install --no-compile .

USER tgwatch
VOLUME ["/data"]

HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 CMD ["tgwatch", "health"]
ENTRYPOINT ["tgwatch"]
CMD ["run"]
