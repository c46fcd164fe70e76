"""A JSON transcoder that uses msgspec: select it with ``TRANSCODER_TOPIC``."""

from eventsourcing.msgspec.transcoder import MsgspecTranscoder

__all__ = ["MsgspecTranscoder"]
