"""Turning audio into results: inputs, the transcription pipeline, long audio, words and segments, formats."""
