# A Voxtra app image: the package, the asterisk-conf/ templates and the examples.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY voxtra ./voxtra
COPY asterisk-conf ./asterisk-conf
COPY examples ./examples
RUN pip install --no-cache-dir ".[speed]"
USER nobody
CMD ["python", "examples/hello.py"]
