"""The voice-model side: synthesis engines behind one interface and the voice registry."""
