"""Tools for the course notebooks: check cells, exercise generation and grading."""

from kaibert.course.check import check, summarize
from kaibert.course.paths import pretrained_bert_path

__all__ = ["check", "summarize", "pretrained_bert_path"]
