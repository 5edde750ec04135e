"""VoiceHub: consented voices, metered lines, lip-sync timing per cut."""

__version__ = "0.1.0"
