# The grader as an image: `docker compose run --rm grader grade /submission` grades a mounted
# submission with the hidden suites on the Redis that REDIS_URL names (compose's redis service).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/grader
COPY pyproject.toml README.md ./
COPY grader/ grader/
COPY tests/hidden/ tests/hidden/
# Editable: the grader finds the hidden suites beside its package, in /opt/grader/tests/hidden.
RUN python -m pip install -e .

WORKDIR /reports
ENTRYPOINT ["grader"]
CMD ["--help"]
