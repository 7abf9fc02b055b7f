# netra-ops as a container image: the CLI (the entrypoint), the runbooks, and exactly the
# packages of requirements.lock. What a Cloud Run job of the validation schedule runs
# (`netra-ops schedule --deploy-jobs`, docs/schedule.md). Build from the repository's root:
#   docker build -t REGION-docker.pkg.dev/PROJECT/netra/netra-ops:VERSION .
# The build context is what .dockerignore lets in (an allowlist); tests/test_dockerfile.py
# checks it.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The lock first (its layer is reused while it does not change): every package pinned with
# its SHA-256 hashes, as `make install INSTALLER=pip` installs it.
COPY requirements.lock ./
RUN python -m pip install --require-hashes -r requirements.lock

# netra-ops itself, without touching the lock's pins.
COPY pyproject.toml README.md ./
COPY netra_ops ./netra_ops
RUN python -m pip install --no-deps . && rm -rf build netra_ops.egg-info

# The runbooks and what names them: found from the working directory (/app).
COPY notebooks ./notebooks
COPY playbooks ./playbooks
COPY environments ./environments

# Not root: a user of its own, owning only the records folder.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin netra \
    && mkdir -p /app/outputs && chown netra:netra /app/outputs
USER netra

ENV NETRA_OPS_ENVIRONMENTS=/app/environments \
    NETRA_OPS_OUTPUTS=/app/outputs

ENTRYPOINT ["netra-ops"]
CMD ["--help"]
