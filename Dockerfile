# One image for the web app and the workers.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY flows ./flows
COPY worker ./worker
COPY locales ./locales
COPY audio ./audio
RUN pip install --no-cache-dir -e . && useradd --system --uid 10001 faro
USER faro
EXPOSE 8000
CMD ["faro", "web"]
