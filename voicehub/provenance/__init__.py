"""Provenance: Content Credentials on every delivered take, and fingerprints that trace a clip back to it."""
