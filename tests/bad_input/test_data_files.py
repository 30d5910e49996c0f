"""Bad data files, read by the real prepare stage (`data.source: files`): a bad record is
quarantined with its reason and counted (quarantine.jsonl, counts.json) while the good ones
are kept; a file that cannot be read at all is one error line naming it (and the line, for
CSV). Nothing is written outside the task's folders.
"""

from __future__ import annotations

import json

import pytest

from babelsum.errors import UserError
from tests.bad_input.conftest import assert_nothing_written, rows
from tests.contexts import make_context

GOOD = [
    {"article_id": "g1", "language": "en", "text": "A good English article about apples."},
    {"article_id": "g2", "language": "fr", "text": "Un bon article en français sur les pommes."},
]
GOOD_JSONL = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in GOOD).encode()
GOOD_CSV = "g1,en,A good English article about apples.\ng2,fr,Un bon article sur les pommes.\n"
HEADER = "article_id,language,text\n"
TEXT = '"text": "Some text that is long enough to keep."'


def jsonl(*lines: bytes | str, first: bool = False) -> bytes:
    """The good records and `lines` after them (or before, with `first`)."""
    extra = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    return extra + GOOD_JSONL if first else GOOD_JSONL + extra


def csv(*lines: str) -> bytes:
    return (HEADER + GOOD_CSV + "".join(x + "\n" for x in lines)).encode()


def parquet(columns: dict):
    def write(path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(columns), path)

    return write


def truncated_parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(GOOD), path)
    path.write_bytes(path.read_bytes()[:200])


BAD_ONE = {"article_id": ["x"], "language": ["en"]}  # the good records: in good.jsonl beside

# (id, file name, content, quarantine reason, what its detail names)
QUARANTINED = [
    ("jsonl-torn-line", "a.jsonl", jsonl('{"article_id": "x", "langu'), "malformed_json", "a.jsonl:3"),
    ("jsonl-first-line-torn", "a.jsonl", jsonl("{torn", first=True), "malformed_json", "a.jsonl:1"),
    ("jsonl-a-list", "a.jsonl", jsonl("[1, 2]"), "malformed_json", "a.jsonl:3: not a JSON object"),
    ("jsonl-a-number", "a.jsonl", jsonl("42"), "malformed_json", "a.jsonl:3: not a JSON object"),
    ("jsonl-nested-too-deep", "a.jsonl", jsonl("[" * 100_000 + "]" * 100_000), "malformed_json", "a.jsonl:3: nested too deeply"),
    ("jsonl-5000-digits", "a.jsonl", jsonl('{"article_id": ' + "9" * 5000 + "}"), "malformed_json", "a.jsonl:3: a number too long"),
    ("jsonl-nul-bytes", "a.jsonl", jsonl(b"\x00\x00\x00"), "malformed_json", "a.jsonl:3"),
    ("jsonl-text-a-number", "a.jsonl", jsonl('{"article_id": "x", "language": "en", "text": 12345678901234}'), "wrong_type", "text is int"),
    ("jsonl-text-a-list", "a.jsonl", jsonl('{"article_id": "x", "language": "en", "text": ["a", "b"]}'), "wrong_type", "text is list"),
    ("jsonl-text-a-mapping", "a.jsonl", jsonl('{"article_id": "x", "language": "en", "text": {"a": 1}}'), "wrong_type", "text is dict"),
    ("jsonl-text-a-boolean", "a.jsonl", jsonl('{"article_id": "x", "language": "en", "text": true}'), "wrong_type", "text is bool"),
    ("jsonl-text-nan", "a.jsonl", jsonl('{"article_id": "x", "language": "en", "text": NaN}'), "wrong_type", "text is float nan"),
    ("jsonl-language-a-list", "a.jsonl", jsonl('{"article_id": "x", "language": ["en"], ' + TEXT + "}"), "wrong_type", "language is list"),
    ("jsonl-language-a-number", "a.jsonl", jsonl('{"article_id": "x", "language": 5, ' + TEXT + "}"), "wrong_type", "language is int"),
    ("jsonl-id-a-mapping", "a.jsonl", jsonl('{"article_id": {"a": 1}, "language": "en", ' + TEXT + "}"), "wrong_type", "article_id is dict"),
    ("jsonl-id-a-fraction", "a.jsonl", jsonl('{"article_id": 1.5, "language": "en", ' + TEXT + "}"), "wrong_type", "article_id is float"),
    ("jsonl-title-a-number", "a.jsonl", jsonl('{"article_id": "x", "language": "en", "title": 7, ' + TEXT + "}", first=True), "wrong_type", "title is int"),
    ("jsonl-summary-a-list", "a.jsonl", jsonl('{"article_id": "x", "language": "en", "summary": ["s"], ' + TEXT + "}", first=True), "wrong_type", "summary is list"),
    ("jsonl-no-text", "a.jsonl", jsonl('{"article_id": "x", "language": "en"}'), "missing_field", "no text"),
    ("jsonl-not-utf8", "a.jsonl", jsonl(b'{"article_id": "x", "language": "en", "text": "caf\xe9 au lait, a drink of coffee"}'), "invalid_utf8", "text is not valid UTF-8"),
    ("jsonl-unknown-language", "a.jsonl", jsonl('{"article_id": "x", "language": "xx", ' + TEXT + "}"), "unknown_language", "'xx'"),
    ("csv-extra-field", "a.csv", csv("g3,en,An unquoted comma, which splits the text"), "malformed_csv", "a.csv:4: 4 fields, the header has 3"),
    ("csv-missing-field", "a.csv", csv("g3,en"), "malformed_csv", "a.csv:4: 2 fields, the header has 3"),
    ("csv-not-utf8", "a.csv", csv() + b"g3,en,A caf\xe9 text long enough to keep\n", "invalid_utf8", "text is not valid UTF-8"),
    ("parquet-text-a-number", "a.parquet", parquet(BAD_ONE | {"text": [1]}), "wrong_type", "text is int"),
    ("parquet-text-a-struct", "a.parquet", parquet(BAD_ONE | {"text": [{"a": "x"}]}), "wrong_type", "text is dict"),
    ("parquet-text-bytes", "a.parquet", parquet(BAD_ONE | {"text": [b"\xff\x00"]}), "wrong_type", "text is bytes"),
]  # fmt: skip

# (id, file name, content (None: no such file), extra files config, culprits of the one line)
REFUSED = [
    ("csv-unterminated-quote", "a.csv", csv('g3,en,"A quote that is never closed', "g4,fr,Une autre ligne assez longue."), {}, ["a.csv:4", "never closed"]),
    ("csv-text-after-quote", "a.csv", csv('g3,en,"quoted" then more'), {}, ["a.csv:4", "not valid CSV"]),
    ("csv-header-twice", "a.csv", b"article_id,language,text,text\ng1,en,A,B\n", {}, ["a.csv:1", "column 'text' appears twice"]),
    ("csv-empty", "a.csv", b"", {}, ["no article left in en, fr"]),
    ("jsonl-empty", "a.jsonl", b"", {}, ["no article left in en, fr"]),
    ("jsonl-only-bad-lines", "a.jsonl", b"{torn\n[1]\n", {}, ["no article left in en, fr"]),
    ("jsonl-first-record-without-language", "a.jsonl", jsonl('{"article_id": "x", ' + TEXT + "}", first=True), {}, ["a.jsonl", "no language column"]),
    ("parquet-not-parquet", "a.parquet", b"this is not parquet", {}, ["a.parquet", "not a readable Parquet file"]),
    ("parquet-empty", "a.parquet", b"", {}, ["a.parquet", "not a readable Parquet file"]),
    ("parquet-truncated", "a.parquet", truncated_parquet, {}, ["a.parquet", "not a readable Parquet file"]),
    ("unknown-suffix", "a.txt", b"hello", {}, ["a.txt", "cannot tell the format", "data.files.format"]),
    ("no-such-file", "missing.jsonl", None, {}, ["data.files.paths", "missing.jsonl"]),
    ("a-folder", "folder.jsonl", lambda path: path.mkdir(), {}, ["data.files.paths", "folder.jsonl"]),
    ("glob-matches-nothing", "a.jsonl", GOOD_JSONL, {"paths": ["nothing-*.jsonl"]}, ["no file matches", "nothing-*.jsonl"]),
    ("mapped-column-missing", "a.jsonl", GOOD_JSONL, {"columns": {"text": "body"}}, ["a.jsonl", "no column 'body'"]),
    ("forced-format-wrong", "a.jsonl", GOOD_JSONL, {"format": "parquet"}, ["a.jsonl", "not a readable Parquet file"]),
]  # fmt: skip


def run_prepare(sandbox, name: str, content, files: dict, more: list[str] = ()):
    """Write the data file into the sandbox; the prepare task's context (in the sweep folder)."""
    path = sandbox.root / name
    if callable(content):
        content(path)
    elif content is not None:
        path.write_bytes(content)
    files = {"paths": [str(path), *more]} | files
    data = {
        "study": "bad-data",
        "languages": ["en", "fr"],
        "train": {"languages": ["en"]},
        "data": {
            "source": "files",
            "files": files,
            "cleaning": {"min_chars": 10, "min_summary_chars": 1, "check_language": False},
        },
    }
    return make_context(sandbox.sweep, data, "prepare")


@pytest.mark.parametrize("name, content, reason, detail", rows(QUARANTINED))
def test_a_bad_record_is_quarantined_with_its_reason_and_counted(
    sandbox, capsys, name, content, reason, detail
):
    from babelsum.stages import prepare

    good = []
    if name.endswith(".parquet"):  # a Parquet column has one type: the good ones beside it
        good = [str(sandbox.write("good.jsonl", GOOD_JSONL))]
    ctx = run_prepare(sandbox, name, content, {}, good)
    before = sandbox.listing()
    prepare.run(ctx)
    assert "Traceback" not in capsys.readouterr().out
    counts = json.loads((ctx.output_dir / "counts.json").read_text())
    assert counts["quarantined"].get(reason) and sum(counts["quarantined"][reason].values()) == 1
    assert sum(n for by_lang in counts["quarantined"].values() for n in by_lang.values()) == 1
    assert counts["kept"] == {"en": 1, "fr": 1}, counts
    (record,) = [json.loads(x) for x in (ctx.output_dir / "quarantine.jsonl").open()]
    assert record["reason"] == reason and detail in record["detail"], record
    assert_nothing_written(before, sandbox.listing())


@pytest.mark.parametrize("name, content, files, culprits", rows(REFUSED))
def test_a_data_file_that_cannot_be_read_is_one_line_naming_it(
    sandbox, name, content, files, culprits
):
    from babelsum.stages import prepare

    ctx = run_prepare(sandbox, name, content, files)
    before = sandbox.listing()
    with pytest.raises(UserError) as raised:
        prepare.run(ctx)
    (line,) = raised.value.lines()
    assert all(c in line for c in culprits), line
    assert len(line) < 1000
    assert_nothing_written(before, sandbox.listing())


@pytest.mark.parametrize(
    "name, content", [("a.jsonl", GOOD_JSONL), ("a.csv", (HEADER + GOOD_CSV).encode())]
)
def test_a_byte_order_mark_is_not_part_of_the_first_record(sandbox, name, content):
    """Files saved by Windows tools begin with one: it is not a malformed first record."""
    from babelsum.stages import prepare

    ctx = run_prepare(sandbox, name, b"\xef\xbb\xbf" + content, {})
    prepare.run(ctx)
    counts = json.loads((ctx.output_dir / "counts.json").read_text())
    assert counts["kept"] == {"en": 1, "fr": 1} and not counts["quarantined"], counts
