"""Golden scripts: a recorded conversation kept in a file, replayed by every test run.

:class:`GoldenScript` decides, vcr-style, whether a test records its
conversation or only replays the file, after a mode: ``"none"`` (replay only,
the default), ``"new"`` (record files that do not exist yet) or ``"all"``
(re-record every file). It needs no pytest; the plugin's ``netserve_golden``
fixture makes one per file with the mode of ``--netserve-record``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from .._errors import NetserveTestingError
from ._recording import Redactor
from ._script import Script
from ._transcript import Transcript

__all__ = ["RECORD_MODES", "GoldenFileMissing", "GoldenScript"]

#: The recording modes, as ``--netserve-record`` takes them.
RECORD_MODES = ("none", "new", "all")


class GoldenFileMissing(NetserveTestingError, FileNotFoundError):
    """A golden script was replayed before it was ever recorded.

    Example:
        >>> try:
        ...     GoldenScript("no/such.script").script
        ... except GoldenFileMissing as exc:
        ...     print(exc)
        golden file no/such.script does not exist: record it with --netserve-record=new
    """


class GoldenScript:
    """One golden file: record a conversation into it, or replay it.

    Args:
        path: The file (its folder is created when it is recorded).
        mode: ``"none"``: never record, replay only; ``"new"``: record when
            the file does not exist; ``"all"``: record every time.
        redact: Called with the bytes of each run of one direction of a
            recording before it is saved; returns them with secrets replaced.

    Example:
        >>> import os, socketserver, tempfile
        >>> class Upper(socketserver.StreamRequestHandler):
        ...     def handle(self):
        ...         self.wfile.write(self.rfile.readline().upper())
        >>> path = os.path.join(tempfile.mkdtemp(), "upper.script")
        >>> golden = GoldenScript(path, mode="new", redact=lambda data: data)
        >>> golden.recording
        True
        >>> recorded = Script().send_line("hi").expect_line("HI").run(Upper)
        >>> golden.record(recorded.transcript).steps
        (Send(data=b'hi\\n'), Expect(data=b'HI\\n'), ExpectClosed())
        >>> golden.recording, golden.replay(Upper).sent
        (False, b'HI\\n')
        >>> os.remove(path); os.rmdir(os.path.dirname(path))
    """

    def __init__(
        self,
        path: Union[str, os.PathLike[str]],
        mode: str = "none",
        redact: Optional[Redactor] = None,
    ) -> None:
        if mode not in RECORD_MODES:
            raise ValueError(f"record mode must be one of {RECORD_MODES}, not {mode!r}")
        self.path = Path(path)
        self.mode = mode
        self.redact = redact
        self._recorded = False

    @property
    def recording(self) -> bool:
        """Whether this run records the file (after the mode and whether it exists)."""
        if self._recorded:
            return False
        return self.mode == "all" or (self.mode == "new" and not self.path.exists())

    def record(self, source: Union[Transcript, Iterable[Any], Script], **options: Any) -> Script:
        """Save ``source`` to the file if this run records; return the file's script.

        Args:
            source: A transcript or recorded chunks (see
                :meth:`Script.from_transcript`), or a ready :class:`Script`.
            **options: For :meth:`Script.from_transcript` (``http=``,
                ``ignore_headers=``).

        Returns:
            The script loaded back from the file, so its steps name ``file:line``.

        Example:
            >>> golden.record(client.transcript)  # doctest: +SKIP
        """
        if self.recording:
            if isinstance(source, Script):
                script = source
            else:
                script = Script.from_transcript(source, redact=self.redact, **options)
            script.save(self.path)
            self._recorded = True
        return self.script

    @property
    def script(self) -> Script:
        """The script in the file.

        Raises:
            GoldenFileMissing: The file was never recorded.
            ScriptFormatError: A line of the file is not a step.
        """
        if not self.path.exists():
            raise GoldenFileMissing(
                f"golden file {self.path} does not exist: record it with --netserve-record=new"
            )
        return Script.load(self.path)

    def replay(self, target: Any, **options: Any) -> Any:
        """Play the file's script against ``target``, as :meth:`Script.run` does.

        A divergence fails with the step's ``file:line`` and the transcript.

        Example:
            >>> golden.replay(netserve.serve(Handler))  # doctest: +SKIP
        """
        __tracebackhide__ = True  # pytest shows the test's line, not ours
        return self.script.run(target, **options)

    def __repr__(self) -> str:
        return f"<GoldenScript {str(self.path)!r} mode={self.mode!r}>"
