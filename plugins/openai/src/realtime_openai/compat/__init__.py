"""Names realtime-qwen 0.2 imports from realtime-openai, kept until realtime-qwen stands on
realtime-openai-protocol (issue 11). realtime-openai itself does not use them: delete this package (and the
re-exports that point here) when realtime-qwen no longer imports realtime_openai.

Where qwen finds them: ``realtime_openai.dialect_session`` (``DialectSession``, ``EventSender``),
``realtime_openai.handler`` (``ServerEventHandler`` with the session-taking constructor, ``_Call``),
``realtime_openai.transport`` (``WebSocketRealtimeTransport`` with the session-taking constructor), and the
emulator modules it subclasses.
"""
