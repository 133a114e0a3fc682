"""The teacher: any OpenAI-compatible chat server (vLLM in production)."""

from domainlm.teacher.client import Teacher, TeacherClient, TeacherError, TeacherUnavailable
from domainlm.teacher.settings import TeacherSettings

__all__ = ["Teacher", "TeacherClient", "TeacherError", "TeacherSettings", "TeacherUnavailable"]
