# A Voxtra app image: the package with the offline voice stack, the asterisk-conf/
# templates and the examples; it runs the offline voice agent as an unprivileged user
# and uses `voxtra check` as its health check.
#
# PYTHON_IMAGE: a Python 3.11 image (or any Debian-based image with python3 and venv).
# PIP_OPTIONS: options for pip, e.g. "--no-index --find-links /wheels" to install only
# the wheels put in docker/wheels/ (pip wheel --wheel-dir docker/wheels '.[speed,offline]').
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
ARG PIP_OPTIONS=""
WORKDIR /app
COPY docker/wheels/ /wheels/
COPY pyproject.toml README.md ./
COPY voxtra ./voxtra
COPY asterisk-conf ./asterisk-conf
COPY examples ./examples
RUN python3 -m venv /opt/voxtra \
 && /opt/voxtra/bin/pip install --no-cache-dir ${PIP_OPTIONS} ".[speed,offline]" \
 && rm -rf /wheels /root/.cache \
 && useradd --system --home-dir /app --shell /usr/sbin/nologin voxtra \
 && install -d -o voxtra -g voxtra /app/recordings
ENV PATH=/opt/voxtra/bin:$PATH PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
USER voxtra
HEALTHCHECK --interval=10s --timeout=8s --start-period=20s CMD ["voxtra", "check"]
CMD ["python", "examples/voice_agent.py"]
