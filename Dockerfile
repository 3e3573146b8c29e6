# rcgate in a container. The backend is reached over the network:
#   docker run -p 8080:8080 rcgate serve --listen 0.0.0.0:8080 --backend-url http://kallithea:5000
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install --no-cache-dir .
COPY mappings ./mappings
COPY config.yaml ./
RUN useradd --system rcgate
USER rcgate
EXPOSE 8080
ENTRYPOINT ["rcgate"]
CMD ["serve", "--config", "/app/config.yaml", "--listen", "0.0.0.0:8080"]
