"""Recording: crash-safe session folders (session, session_writer, session_reader, layout),
markers and self-assessment, FER annotation (annotation), export, LSL outlets, and the
`--record` options of the run command (run_hooks). docs/session-format.md describes the folder."""
