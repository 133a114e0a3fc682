"""The teacher: any OpenAI-compatible chat server (vLLM in production)."""

from domainlm.teacher.client import TeacherClient, TeacherError, TeacherUnavailable
from domainlm.teacher.settings import TeacherSettings

__all__ = ["TeacherClient", "TeacherError", "TeacherSettings", "TeacherUnavailable"]
