"""--netserve-record and the netserve_golden fixture, end to end in a pytest subprocess."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import socketserver

import pytest


class Greeter(socketserver.StreamRequestHandler):
    greeting = b"HELLO"

    def handle(self):
        line = self.rfile.readline()
        self.wfile.write(self.greeting + b" " + line.strip() + b"\\r\\n")


def test_greeting(netserve, netserve_golden):
    server = netserve.serve(Greeter)
    golden = netserve_golden("greeting.script")
    if golden.recording:
        with server.connect() as client:
            client.send_line("alice pw=hunter2").recv_line()  # drives, checks nothing
            client.close().expect_closed()
        golden.record(client.transcript)
    golden.replay(server)
    golden.replay(Greeter)
"""

CONFTEST = """
import pytest


@pytest.fixture
def netserve_redact():
    return lambda data: data.replace(b"hunter2", b"*******")
"""


@pytest.fixture
def user(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.makeconftest(CONFTEST)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)


def test_record_none_new_all(user: pytest.Pytester) -> None:
    golden = user.path / "golden" / "greeting.script"
    missing = run(user)
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(
        ["*golden file *greeting.script does not exist: record it with --netserve-record=new*"]
    )
    assert not golden.exists()

    recorded = run(user, "--netserve-record=new")
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines(["netserve: *, record new"])
    assert golden.read_text().splitlines() == [
        "# netserve script 2",
        'send "alice pw=*******\\n"',
        'expect "HELLO alice pw=*******\\r\\n"',
        "close",
        "expect_closed",
    ]
    run(user).assert_outcomes(passed=1)  # replay only

    # The handler changes: the replay fails at the golden file's line, with the transcript.
    user.makepyfile(test_user=USER_TESTS.replace('greeting = b"HELLO"', 'greeting = b"HI"'))
    diverged = run(user)
    diverged.assert_outcomes(failed=1)
    diverged.stdout.fnmatch_lines(
        [
            "*script step 2 of 4 (expect b'HELLO alice pw=*******\\r\\n')"
            " at *greeting.script:3 failed*",
            "*transcript:*",
        ]
    )
    run(user, "--netserve-record=new").assert_outcomes(failed=1)  # it exists: not re-recorded
    run(user, "--netserve-record=all").assert_outcomes(passed=1)  # re-recorded
    assert 'expect "HI alice pw=*******\\r\\n"' in golden.read_text()
    run(user).assert_outcomes(passed=1)


def test_record_option_is_checked(user: pytest.Pytester) -> None:
    result = run(user, "--netserve-record=some")
    result.stderr.fnmatch_lines(["*--netserve-record: expected none, new or all, got 'some'*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR
