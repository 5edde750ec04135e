"""Voice builds: an actor's recordings, prepared and fine-tuned into a coqui-tts VITS voice."""
