"""The trainer service: training runs as local processes or Kubernetes Jobs, evaluation, publishing."""
