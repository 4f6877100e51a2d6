# The citysieve worker image. Build: docker build -t citysieve:0.1.0 .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY citysieve citysieve
COPY connectors connectors
COPY streams streams
COPY transforms transforms
COPY schemas schemas
COPY policies policies
RUN python -m venv /opt/citysieve \
 && /opt/citysieve/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11-slim
RUN useradd --system --uid 10001 citysieve
COPY --from=build /opt/citysieve /opt/citysieve
ENV PATH=/opt/citysieve/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CITYSIEVE_STATE_DIR=/var/lib/citysieve
RUN mkdir -p /var/lib/citysieve && chown citysieve /var/lib/citysieve
USER citysieve
ENTRYPOINT ["citysieve"]
CMD ["worker"]
