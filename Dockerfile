FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY openspc ./openspc
COPY plants ./plants
COPY spc ./spc
COPY alerts ./alerts
COPY ingest ./ingest
COPY templates ./templates
COPY static ./static
COPY manage.py ./
RUN pip install --no-cache-dir . && OPENSPC_SECRET_KEY=build python manage.py collectstatic --noinput
ENV OPENSPC_DATA_DIR=/data
EXPOSE 8000
CMD ["uvicorn", "--host", "0.0.0.0", "--port", "8000", "--lifespan", "off", "--proxy-headers", "openspc.asgi:application"]
