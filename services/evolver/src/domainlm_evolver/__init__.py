"""The evolver service: samples.unique in, samples.evolved out (Evol-Instruct with the teacher LLM)."""
