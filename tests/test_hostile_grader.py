"""Hostile submissions against the grader's own process: text it cannot write or show, replies
that would flood its memory, zips it cannot read.

The sandbox keeps student code out of the grader, but what the worker sends back still runs
through the grader: the decoder, the report writer, the TA's terminal. Each case here is a copy
of the homework 2 reference with one sabotage (as in :mod:`test_hostile`), graded end to end
with :func:`~autograder.grade.grade_submission` on the real ``reward_to_go`` check. For every
one, ``results.json`` and ``staff.json`` are written and valid against
``autograder/results_schema.json``, and the check fails with a plain message:

* a lone surrogate in an exception's message (once, no ``results.json`` at all);
* an exception class named with 65 MB (once, a 65 MB ``results.json``);
* escape codes, carriage returns, bidirectional controls and line separators in a message
  (once, a table that showed every row passed and "total: 100/100");
* a JSON bomb written straight to the result channel (once, 3.2 GB of the grader's memory);
* a forged reply with the right id, whose texts are too long and full of escape codes;
* a zip whose entry name is marked UTF-8 but is not (once, "internal grader error").

Unit tests pin the pieces: :func:`~autograder.protocol.safe_text`, the decoder's caps,
:func:`~autograder.protocol.peek_id`, and :func:`~autograder.report.write_json_atomic`'s
fallback.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
import test_hostile
from test_hostile import PACKAGE, REPO_ROOT, RTG, Case, Edit, body, make_submission, module

from autograder import protocol, report
from autograder.grade import grade_submission
from autograder.mutants import copy_homework
from autograder.sandbox import MAX_TYPE_CHARS, Failure, Sandbox, Success

base = test_hostile.base  # the fixture: this test's folder, processes killed and all removed

# what must never reach a terminal or a UTF-8 file: ESC, CR, backspace, NUL, DEL, CSI (C1),
# a lone surrogate, right-to-left override, left-to-right isolate, line and paragraph separators
UNSAFE = "\x1b\r\x08\x00\x7f\x9b\udc80\u202e\u2066\u2028\u2029"

# the submission finds its end of the result channel as any process can: the one pipe it may
# only write to (the worker's stdout and stderr are a log file, its stdin is /dev/null)
FIND_RESPONSE_FD = module(
    """
def _response_fd():
    import fcntl
    import os
    import stat

    for fd in range(3, 256):
        try:
            mode, flags = os.fstat(fd).st_mode, fcntl.fcntl(fd, fcntl.F_GETFL)
        except OSError:
            continue
        if stat.S_ISFIFO(mode) and flags & os.O_ACCMODE == os.O_WRONLY:
            os.set_blocking(fd, True)
            return fd
    raise RuntimeError("no result channel found")
"""
)

# 60 MB of "{}," inside one list: parsed, 20 million dicts (3.2 GB of the grader's memory)
JSON_BOMB = body(
    """import os
import struct
import time

fd = _response_fd()
json_part = b"[" + b"{{}}," * (20 * 2**20) + b"0]"
frame_body = struct.pack(">I", len(json_part)) + json_part
os.write(fd, b"RLHW" + struct.pack(">Q", len(frame_body)))
view = memoryview(frame_body)
while view:
    view = view[os.write(fd, view) :]
time.sleep(60)
"""
)

# a reply the worker never wrote, with the id of the request being answered (found in the
# worker's own frames) and texts far over every cap; then the worker leaves
FORGED_REPLY = body(
    """import os
import sys

frame = sys._getframe()
while not isinstance(frame.f_locals.get("request"), dict):
    frame = frame.f_back
wire = sys.modules["autograder.protocol"]
reply = {{
    "id": frame.f_locals["request"]["id"],
    "error": {{
        "kind": "error",
        "type": "\\x1b[2J" + "A" * 600_000 + "\\udc80",
        "message": "\\x1b[1A\\r" + "B" * 300_000,
        "traceback": "\\u202e" + "C" * 50_000,
    }},
}}
wire.write_frame(_response_fd(), wire.encode(reply))
os._exit(0)
"""
)

# the grader, run in a child process so that its peak memory can be read; what it prints is
# how much its peak grew while grading, from after its imports
_GRADE_IN_CHILD = """
import json, resource, sys
from pathlib import Path

from autograder.grade import grade_submission
from test_hostile import PACKAGE, RTG

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
grade_submission(Path(sys.argv[1]), "hw2", Path(sys.argv[2]), checks=[RTG], package=PACKAGE)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mb": (after - before) / 1024}))
"""


# ------------------------------------------------------------------------------- helpers


def submission(base: Path, *edits: Edit) -> Path:
    return make_submission(Case(edits, None), Path(tempfile.mkdtemp(dir=base)), {})


def reports(out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The staff's and the student's reports in ``out``, each checked against the schema."""
    schema = report.load_schema()
    staff = json.loads((out / report.STAFF_FILE).read_text(encoding="utf-8"))
    student = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for data in (staff, student):
        jsonschema.validate(data, schema)
    return staff, student


def grade(base: Path, *edits: Edit) -> tuple[dict[str, Any], dict[str, Any]]:
    """Grade the reference with ``edits`` on the ``reward_to_go`` check: its reports."""
    out = base / "out"
    returned = grade_submission(submission(base, *edits), "hw2", out, checks=[RTG], package=PACKAGE)
    staff, student = reports(out)
    assert returned == staff  # what the TA's table shows is what was written
    return staff, student


def grade_in_child(base: Path, *edits: Edit) -> tuple[float, dict[str, Any]]:
    """Grade as :func:`grade` does, in a child process: how much the grader's peak memory
    (MiB) grew while grading, and the staff's report."""
    out = base / "out"
    done = subprocess.run(
        [sys.executable, "-c", _GRADE_IN_CHILD, str(submission(base, *edits)), str(out)],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'tests'}",
            "TMPDIR": str(base / "tmp"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    grew = json.loads(done.stdout.strip().splitlines()[-1])["grew_mb"]
    staff, _ = reports(out)
    return grew, staff


def only_row(data: dict[str, Any]) -> dict[str, Any]:
    (row,) = data["tests"]
    return row


def longest_run(text: str, char: str) -> int:
    return max((len(m) for m in re.findall(f"{re.escape(char)}+", text)), default=0)


def assert_safe(text: str) -> None:
    found = sorted({f"U+{ord(c):04X}" for c in text if c in UNSAFE})
    assert not found, f"unsafe characters {found} in {text[:300]!r}"


# ------------------------------------------------------------------------------- end to end


def test_a_lone_surrogate_in_an_exception_is_replaced_when_it_arrives(base: Path) -> None:
    sabotage = body('raise ValueError("\\udc80 \\ud800")\n')
    staff, student = grade(base, sabotage)

    row = only_row(staff)
    assert row["status"] == "failed" and row["score"] == 0
    assert "raised ValueError in `reward_to_go`: \ufffd \ufffd" in row["output"]
    # the grader's own copy of the failure holds no surrogate either, not only the report
    with Sandbox(submission(base, sabotage)) as sandbox:
        result = sandbox.call(f"{PACKAGE}.pg", "reward_to_go", (np.ones(3), 0.9))
    assert isinstance(result, Failure), result
    assert result.message == "raised ValueError in `reward_to_go`: \ufffd \ufffd"
    for text in (result.message, result.traceback, result.error_type, result.output):
        assert_safe(text)


def test_what_a_call_returns_or_prints_is_made_safe_when_it_arrives(base: Path) -> None:
    returns_text = module(
        """
def odd_text():
    print("\\x1b[2J\\x1b[Hall checks passed\\r\\x08")
    return {{"\\udc80\\x1b[31m": ["\\u202e\\r", "x" * 100_000]}}
"""
    )
    with Sandbox(submission(base, returns_text)) as sandbox:
        result = sandbox.call(f"{PACKAGE}.pg", "odd_text", ())

    assert isinstance(result, Success), result
    ((key, (short, long)),) = result.value.items()
    assert key == "\ufffd\ufffd[31m" and short == "\ufffd\ufffd"
    assert len(long) <= protocol.MAX_TEXT_CHARS and long.endswith("more characters cut]")
    assert result.output == "\ufffd[2J\ufffd[Hall checks passed\ufffd\ufffd\n"


def test_an_exception_class_named_with_65_mb(base: Path) -> None:
    staff, student = grade(base, body('raise type("A" * 65_000_000, (Exception,), {{}})("x")\n'))

    row = only_row(staff)
    assert row["status"] == "failed" and row["score"] == 0
    assert re.search(r"raised A+ in `reward_to_go`: x", row["output"]), row["output"][:300]
    assert longest_run(row["output"], "A") <= MAX_TYPE_CHARS
    assert len(json.dumps(staff)) < 10_000


def test_a_forged_reply_with_the_right_id_is_capped_and_made_safe(base: Path) -> None:
    staff, _ = grade(base, FIND_RESPONSE_FD, FORGED_REPLY)

    row = only_row(staff)
    assert row["status"] == "failed" and row["score"] == 0
    assert re.search(r"raised \ufffd\[2JA+", row["output"]), row["output"][:300]
    assert longest_run(row["output"], "A") <= MAX_TYPE_CHARS
    assert longest_run(row["output"], "B") <= 4000
    assert_safe(row["output"])
    assert len(json.dumps(staff)) < 20_000


def test_escape_codes_cannot_rewrite_the_tas_table(base: Path) -> None:
    # clear the screen, go up a line, overwrite it with a passed row and a full score; a
    # right-to-left override and a line separator (a new line to str.splitlines) besides
    fake = "1.1  reward_to_go: discounted reward-to-go  10/10   passed"
    message = (
        f"\\x1b[2J\\x1b[H\\x1b[1A\\r{fake}\\u2028total: 100/100 points (1 of 1 checks passed)"
        f"\\u202e\\x08\\x9b0m\\x00"
    )
    staff, student = grade(
        base, body(f'print("\\x1b[2J\\r{fake}")\nraise ValueError("{message}")\n')
    )

    for data in (staff, student):
        assert only_row(data)["status"] == "failed"
        for show_hidden in (True, False):
            table = report.format_table(data, show_hidden=show_hidden)
            assert_safe(table)
            totals = [line for line in table.splitlines() if line.startswith("total")]
            assert len(totals) == 1 and re.match(r"total[a-z ]*: 0/10 points", totals[0]), totals
            rows = [line for line in table.splitlines() if line.startswith("1.1")]
            assert rows == [re.sub(r"10/10 +passed", "0/10    failed", fake)], rows


def test_a_json_bomb_on_the_result_channel_costs_the_grader_little(base: Path) -> None:
    grew_mb, staff = grade_in_child(base, FIND_RESPONSE_FD, JSON_BOMB)

    assert grew_mb < 200, f"the grader's peak memory grew by {grew_mb:.0f} MiB"
    row = only_row(staff)
    assert row["status"] == "failed" and row["score"] == 0
    assert (
        "wrote garbage to the result channel in `reward_to_go` (a JSON part of 62914563 bytes, "
        f"over the {protocol.MAX_JSON_BYTES}-byte cap)"
    ) in row["output"]


def test_a_zip_entry_whose_name_is_not_utf8_is_the_submissions_fault(base: Path) -> None:
    # the reference zipped, plus an entry whose name is flagged as UTF-8 (bit 11) but is not
    root = copy_homework(REPO_ROOT, PACKAGE, Path(tempfile.mkdtemp(dir=base)))
    archive = base / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((root / PACKAGE).rglob("*.py")):
            zf.write(path, path.relative_to(root).as_posix())
        zf.writestr(f"{PACKAGE}/notes-\u4e00\u4e01.txt", "my notes")  # flagged UTF-8
    data = archive.read_bytes()
    name = "\u4e00\u4e01".encode()
    assert data.count(name) == 2  # the local header and the central directory
    archive.write_bytes(data.replace(name, b"\xff" * len(name)))
    shutil.rmtree(root)
    out = base / "out"

    grade_submission(archive, "hw2", out, checks=[RTG], package=PACKAGE)

    staff, student = reports(out)
    for data in (staff, student):
        row = only_row(data)
        assert row["name"] == "submission: homework package found"
        assert "grader_error" not in row["extra_data"], row
        assert "refused upload.zip: an entry's name is marked as UTF-8 but is not" in row["output"]
        assert "grader_errors" not in data["extra_data"]


# ------------------------------------------------------------------------------- the pieces


@pytest.mark.parametrize("char", list(UNSAFE))
def test_safe_text_replaces_what_a_terminal_or_a_file_cannot_take(char: str) -> None:
    assert protocol.safe_text(f"a{char}b") == "a\ufffdb"


def test_safe_text_keeps_newlines_tabs_and_other_scripts_and_caps() -> None:
    kept = "line\n\tindented é 漢字 🎉 ∑ — ‘quoted’"
    assert protocol.safe_text(kept) == kept
    long = protocol.safe_text("x" * 1000, 100)
    assert len(long) <= 100 and long == "x" * 60 + "\n[940 more characters cut]"
    assert protocol.safe_text(long, 100) == long  # twice is once
    assert protocol.safe_text("x" * 1000, 10) == "x" * 10


def test_the_json_part_is_capped_from_the_first_bytes_of_the_body() -> None:
    json_part = b"[" + b"{}," * 400_000 + b"0]"  # 1.2 MB
    frame_body = protocol.JSON_LENGTH.pack(len(json_part)) + json_part
    frame = protocol.HEADER.pack(protocol.MAGIC, len(frame_body)) + frame_body
    cap = f"a JSON part of {len(json_part)} bytes, over the {protocol.MAX_JSON_BYTES}-byte cap"
    reader = protocol.FrameReader()
    reader.feed(frame[:16])  # header and JSON length only: refused before the rest arrives
    with pytest.raises(protocol.ProtocolError, match=re.escape(cap)):
        reader.next_frame()
    with pytest.raises(protocol.ProtocolError, match=re.escape(cap)):
        protocol.decode(frame)
    small = protocol.encode({"a": [1, 2]})
    with pytest.raises(protocol.ProtocolError, match="over the 5-byte cap"):
        protocol.decode_body(small[protocol.HEADER.size :], max_json=5)
    assert protocol.MAX_JSON_BYTES == 2**20


def test_the_json_part_is_capped_in_values_before_it_is_parsed() -> None:
    cap = protocol.MAX_JSON_ITEMS
    assert cap == 100_000
    json_part = b'{"id":1,"ok":[' + b"[]," * (cap // 2) + b"0]}"  # 150 kB, under the byte cap
    frame_body = protocol.JSON_LENGTH.pack(len(json_part)) + json_part
    with pytest.raises(protocol.ProtocolError, match=f"values, over the {cap} cap"):
        protocol.decode_body(frame_body)
    fits = b'{"id":1,"ok":[' + b"[]," * (cap // 2 - 10) + b"0]}"
    decoded = protocol.decode_body(protocol.JSON_LENGTH.pack(len(fits)) + fits)
    assert len(decoded["ok"]) == cap // 2 - 9


def test_the_encoder_refuses_what_the_decoder_would() -> None:
    too_many = "over the caps of 1048576 bytes and 100000 values"
    with pytest.raises(protocol.UnsupportedTypeError, match=too_many):
        protocol.encode({"id": 1, "ok": [0.5] * 400_000})
    with pytest.raises(protocol.UnsupportedTypeError, match=too_many):
        protocol.encode({"id": 1, "ok": [[]] * 60_000})
    arrays = protocol.encode({"id": 1, "ok": np.full(400_000, 0.5)})  # arrays are bytes
    assert np.array_equal(protocol.decode(arrays)["ok"], np.full(400_000, 0.5))


def test_strings_and_keys_are_made_safe_when_decoded() -> None:
    frame = protocol.encode({"k\x1b": ["\udc80", ("\r",)], "long": "y" * (2**17)})
    decoded = protocol.decode(frame)
    assert decoded["k\ufffd"] == ["\ufffd", ("\ufffd",)]
    assert len(decoded["long"]) <= protocol.MAX_TEXT_CHARS < 2**17
    # two keys that only the replaced characters told apart
    with pytest.raises(protocol.ProtocolError, match="duplicate key"):
        protocol.decode(protocol.encode({"a\x1b": 1, "a\x07": 2}))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"id": 12, "ok": 1}, 12),
        ({"id": 0, "error": {}}, 0),
        ({"ok": 1, "id": 12}, None),  # the id must come first
        ({"id": None, "ok": 1}, None),
        ({"id": "12", "ok": 1}, None),
        ({"id": -3, "ok": 1}, None),
        ({"hello": {}}, None),
        ([12], None),
    ],
)
def test_a_replys_id_is_read_from_its_first_bytes(message: Any, expected: int | None) -> None:
    frame_body = protocol.encode(message)[protocol.HEADER.size :]
    assert protocol.peek_id(frame_body) == expected
    # what comes after the first bytes is never looked at
    assert protocol.peek_id(frame_body[:40]) == expected


def test_a_failure_is_made_safe_and_capped_however_it_is_made() -> None:
    failure = Failure(
        "error", "m\x1b" * 10_000, error_type="T" * 10**6 + "\udc80", traceback="\r" * 9000
    )
    assert len(failure.message) <= 8000 and "\x1b" not in failure.message
    assert len(failure.error_type) <= MAX_TYPE_CHARS
    assert_safe(failure.traceback)
    success = Success(None, output="\x1b[2J")
    assert success.output == "\ufffd[2J"


def test_results_json_is_written_whatever_it_holds(tmp_path: Path) -> None:
    data = report.error_results(
        "check \x1b[2J", "why \udc80", 10.0, hw="hw2", seed=0, execution_time=1.0
    )
    data["tests"][0]["extra_data"]["\udc80key"] = "\u202e"
    written = report.write_json_atomic(tmp_path / "results.json", data)

    loaded = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert loaded == written
    jsonschema.validate(loaded, report.load_schema())
    assert_safe(json.dumps(loaded, ensure_ascii=False))
    assert loaded["tests"][0]["name"] == "check \ufffd[2J"


@pytest.mark.parametrize("bad", [math.nan, math.inf, object()])
def test_results_that_cannot_be_written_become_a_grader_error(tmp_path: Path, bad: Any) -> None:
    data = report.error_results("check", "why", 10.0, hw="hw2", seed=3, execution_time=1.0)
    data["tests"][0]["score"] = bad
    written = report.write_json_atomic(tmp_path / "results.json", data)

    loaded = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert loaded == written
    jsonschema.validate(loaded, report.load_schema())
    assert loaded["score"] == 0 and loaded["max_score"] == 10.0
    assert loaded["extra_data"]["grader_errors"] == ["grader"]
    assert loaded["extra_data"]["seed"] == 3
    assert "the grader could not write this grading's results" in loaded["tests"][0]["output"]
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left
