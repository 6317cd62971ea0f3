"""Writes the log rulebook's corpus: one folder per case under Fixtures/logs/, holding the case's files
byte for byte and its expected.json, written by hand below (docs/FORMATS.md, "Behavior logs", states the
rules). Both readers — Swift's Dataset.load and Python's lifelong.log.read — must pass every case
(Tests/BehaviorLogTests/LogCorpusTests.swift, python/tests/test_log_corpus.py).

expected.json: {"data": path read (relative to the case folder; "." is the folder), "rating_threshold"?,
and either "parse": {"behaviors": [{user, item, timestamp, label}], "items": {id: {category, text}}} or
"error": {"kind": "input", "file": relative path named ("." for the folder), "line": n or null,
"message": the reason, without "FILE:LINE: "}}.

Run from the repository root: python3 Fixtures/logs/make_corpus.py (it rewrites every case folder).
"""

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent
INTER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
CASES = {}


def case(name, files, *, parse=None, error=None, data=".", rating_threshold=None):
    assert (parse is None) != (error is None)
    expected = {"data": data}
    if rating_threshold is not None:
        expected["rating_threshold"] = rating_threshold
    if parse is not None:
        expected["parse"] = parse
    else:
        file, line, message = error
        expected["error"] = {"kind": "input", "file": file, "line": line, "message": message}
    CASES[name] = (files, expected)


def b(user, item, timestamp, label=None):
    return {"user": user, "item": item, "timestamp": timestamp, "label": label}


def item(category=None, text=None):
    return {"category": category, "text": text}


def recbole(name, inter, item_file=None, **kw):
    files = {f"{name}.inter": inter}
    if item_file is not None:
        files[f"{name}.item"] = item_file
    case(name, files, **kw)


# ---- RecBole: valid -----------------------------------------------------------------------------------

ITEM_HEADER = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
recbole("rb-basic",
        INTER + "196\t242\t3\t881250949\n186\t302\t4\t891717742\n196\t51\t5\t881250949\n",
        ITEM_HEADER + "242\tKolya\t1996\tComedy\n302\tL.A. Confidential\t1997\tCrime Film-Noir Mystery Thriller\n",
        parse={"behaviors": [b("196", "242", 881250949, False), b("186", "302", 891717742, True),
                             b("196", "51", 881250949, True)],
               "items": {"242": item("Comedy", "Kolya (1996)"),
                         "302": item("Crime", "L.A. Confidential (1997)")}})
recbole("rb-threshold", INTER + "1\t2\t3\t10\n1\t3\t2.5\t11\n", rating_threshold=2.5,
        parse={"behaviors": [b("1", "2", 10, True), b("1", "3", 11, True)], "items": {}})
recbole("rb-crlf",
        (INTER + "196\t242\t3\t881250949\n186\t302\t4\t891717742\n").replace("\n", "\r\n"),
        (ITEM_HEADER + "242\tKolya\t1996\tComedy\n").replace("\n", "\r\n"),
        parse={"behaviors": [b("196", "242", 881250949, False), b("186", "302", 891717742, True)],
               "items": {"242": item("Comedy", "Kolya (1996)")}})
recbole("rb-bom", "\ufeff" + INTER + "196\t242\t3\t881250949\n",
        "\ufeff" + ITEM_HEADER + "242\tKolya\t1996\tComedy\n",
        parse={"behaviors": [b("196", "242", 881250949, False)], "items": {"242": item("Comedy", "Kolya (1996)")}})
recbole("rb-whitespace",
        "user_id:token \t item_id:token\trating:float\ttimestamp:float\n"
        " 196 \t 242\t 3 \t 881250949  \n\n   \n\t\t\t\n186\t302\t4\t891717742\n",
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        " 242 \t  Kolya \t 1996 \t  Comedy   Drama \n302\tHeat\t\t Action\n",
        parse={"behaviors": [b("196", "242", 881250949, False), b("186", "302", 891717742, True)],
               "items": {"242": item("Comedy", "Kolya (1996)"), "302": item("Action", "Heat")}})
recbole("rb-label-wins",
        "user_id:token\titem_id:token\trating:float\tlabel:float\ttimestamp:float\n"
        "u\ta\t5\t0\t1\nu\tb\t1\t1\t2\nu\tc\t1\t2.5\t3\nu\td\t5\t-1\t4\nu\te\t5\t1e0\t5\nu\tf\t5\t-0\t6\n",
        parse={"behaviors": [b("u", "a", 1, False), b("u", "b", 2, True), b("u", "c", 3, True),
                             b("u", "d", 4, False), b("u", "e", 5, True), b("u", "f", 6, False)], "items": {}})
recbole("rb-numbers",
        "user_id:token\titem_id:token\ttimestamp:float\n"
        "u\ta\t1e9\nu\tb\t+5\nu\tc\t5.\nu\td\t.5\nu\te\t1.5E3\nu\tf\t007\nu\tg\t-2\nu\th\t0.1\n"
        "u\ti\t123456789012345678\n",
        parse={"behaviors": [b("u", "a", 1e9), b("u", "b", 5), b("u", "c", 5), b("u", "d", 0.5),
                             b("u", "e", 1500), b("u", "f", 7), b("u", "g", -2), b("u", "h", 0.1),
                             b("u", "i", 123456789012345678)], "items": {}})
recbole("rb-unicode",
        INTER + "café\t日本\t4\t1\nü\t😀\t1\t2\n",
        ITEM_HEADER + "日本\tSeven Samurai · 七人の侍\t1954\tDrama\n😀\tAmélie\t2001\tComédie\n",
        parse={"behaviors": [b("café", "日本", 1, True), b("ü", "😀", 2, False)],
               "items": {"日本": item("Drama", "Seven Samurai · 七人の侍 (1954)"),
                         "😀": item("Comédie", "Amélie (2001)")}})
recbole("rb-no-catalog", INTER + "1\t2\t4\t3\n", parse={"behaviors": [b("1", "2", 3, True)], "items": {}})
recbole("rb-empty-fields", INTER + "1\t2\t4\t3\n",
        ITEM_HEADER + "2\t\t1995\t\n3\tHeat\t\tAction\n4\tUp\t \t  \n",
        parse={"behaviors": [b("1", "2", 3, True)],
               "items": {"2": item(), "3": item("Action", "Heat"), "4": item(None, "Up")}})
recbole("rb-no-final-newline", INTER + "1\t2\t4\t3\n1\t5\t1\t4",
        parse={"behaviors": [b("1", "2", 3, True), b("1", "5", 4, False)], "items": {}})
recbole("rb-extra-columns",
        "user_id:token\tnote:token_seq\titem_id:token\ttimestamp:float\tuser_id:token\tx:y:z\n"
        "1\tfree text: with colons\t2\t3\tignored\t{json}\n",
        "item_id:token\tgenre:token\tname:token_seq\tcategory:token\n2\tjazz\tSo What\trock\n",
        parse={"behaviors": [b("1", "2", 3)], "items": {"2": item("rock", "So What")}})
case("rb-inter-file", {"ds.inter": INTER + "1\t2\t4\t3\n", "ds.item": "item_id:token\tclass:token\n2\tA\n"},
     data="ds.inter", parse={"behaviors": [b("1", "2", 3, True)], "items": {"2": item("A")}})
case("rb-ties-in-time", {"rb-ties-in-time.inter": INTER + "u\t9\t4\t5\nu\t10\t4\t5\nv\t9\t1\t5\n"},
     parse={"behaviors": [b("u", "9", 5, True), b("u", "10", 5, True), b("v", "9", 5, False)], "items": {}})

# ---- RecBole: errors ----------------------------------------------------------------------------------

def rb_error(name, inter, line, message, item_file=None, file=None):
    recbole(name, inter, item_file, error=(file or f"{name}.inter", line, message))


rb_error("rb-missing-column", "user_id:token\titem_id:token\n1\t2\n", 1,
         "missing column 'timestamp' (header has user_id, item_id)")
rb_error("rb-too-few-fields", INTER + "1\t2\t4\t3\n1\t2\t4\n", 3, "expected 4 tab-separated fields, found 3")
rb_error("rb-too-many-fields", INTER + "1\t2\t4\t3\t9\n", 2, "expected 4 tab-separated fields, found 5")
rb_error("rb-truncated", INTER + "1\t2\t4\t3\n1\t2", 3,
         "expected 4 tab-separated fields, found 2 (truncated last line?)")
for label, text in [("word", "soon"), ("inf", "inf"), ("nan", "nan"), ("hex", "0x10"), ("underscore", "1_000"),
                    ("overflow", "1e999"), ("empty", ""), ("sign-only", "-"), ("exponent-only", "1e"),
                    ("two-points", "1.2.3"), ("inner-space", "1 2"), ("arabic-digits", "١٢")]:
    rb_error(f"rb-timestamp-{label}", INTER + f"1\t2\t4\t{text}\n", 2, f"timestamp '{text}' is not a number")
rb_error("rb-rating-not-number", INTER + "1\t2\tgood\t3\n", 2, "rating 'good' is not a number")
rb_error("rb-label-not-number", "user_id:token\titem_id:token\tlabel:float\ttimestamp:float\n1\t2\tyes\t3\n", 2,
         "label 'yes' is not a number")
rb_error("rb-empty-user", INTER + "1\t2\t4\t3\n \t2\t4\t3\n", 3, "empty user_id or item_id")
rb_error("rb-empty-item", INTER + "1\t\t4\t3\n", 2, "empty user_id or item_id")
rb_error("rb-order-of-checks", INTER + "\t2\tgood\tsoon\n", 2, "empty user_id or item_id")
rb_error("rb-empty-file", "", None, "empty file")
rb_error("rb-header-only", INTER, None, "no behaviors (only a header)")
rb_error("rb-header-and-blank-lines", INTER + "\n  \n", None, "no behaviors (only a header)")
rb_error("rb-blank-header", "\n" + INTER + "1\t2\t4\t3\n", 1, "the header is empty")
rb_error("rb-bom-only", "\ufeff", 1, "the header is empty")
recbole("rb-invalid-utf8", (INTER + "1\t2\t4\t3\n").encode() + b"1\t\xc3(\t4\t3\n", error=("rb-invalid-utf8.inter", 3,
        "not valid UTF-8"))
recbole("rb-overlong-utf8", (INTER + "1\t2\t4\t3\n1\t2\t4\t3\n").encode() + b"\xc0\xaf\t2\t4\t3\n",
        error=("rb-overlong-utf8.inter", 4, "not valid UTF-8"))
recbole("rb-surrogate-utf8", INTER.encode() + b"1\t\xed\xa0\x80\t4\t3\n",
        error=("rb-surrogate-utf8.inter", 2, "not valid UTF-8"))
recbole("rb-cut-utf8", INTER.encode() + b"1\t2\t4\t3\n\xe6\x97", error=("rb-cut-utf8.inter", 3, "not valid UTF-8"))
recbole("rb-utf8-error-first", (INTER + "1\t2\t4\tsoon\n").encode() + b"\xff\n",
        error=("rb-utf8-error-first.inter", 3, "not valid UTF-8"))
rb_error("rb-item-missing-id", INTER + "1\t2\t4\t3\n", 1, "missing column 'item_id' (header has id, class)",
         item_file="id:token\tclass:token\n2\tA\n", file="rb-item-missing-id.item")
rb_error("rb-item-duplicate", INTER + "1\t2\t4\t3\n", 3, "item '2' listed twice",
         item_file="item_id:token\tclass:token\n2\tA\n 2 \tB\n", file="rb-item-duplicate.item")
rb_error("rb-item-empty-id", INTER + "1\t2\t4\t3\n", 2, "empty item_id",
         item_file="item_id:token\tclass:token\n\tA\n", file="rb-item-empty-id.item")
rb_error("rb-item-too-few-fields", INTER + "1\t2\t4\t3\n", 3, "expected 2 tab-separated fields, found 1",
         item_file="item_id:token\tclass:token\n2\tA\n3\n", file="rb-item-too-few-fields.item")
rb_error("rb-item-empty-file", INTER + "1\t2\t4\t3\n", None, "empty file", item_file="",
         file="rb-item-empty-file.item")
recbole("rb-item-invalid-utf8", INTER + "1\t2\t4\t3\n", b"item_id:token\tclass:token\n2\t\xfe\n",
        error=("rb-item-invalid-utf8.item", 2, "not valid UTF-8"))
rb_error("rb-behaviors-checked-first", INTER + "1\t2\t4\tsoon\n", 2, "timestamp 'soon' is not a number",
         item_file="")

# ---- JSON Lines: valid --------------------------------------------------------------------------------

# ---- One normalization form per id (Swift's String equates NFC and NFD spellings; bytes do not) ------------

NFC, NFD = "caf\u00e9", "cafe\u0301"
FORMS = "in another Unicode normalization form: write every id in one form (NFC)"
rb_error("rb-forms-users", INTER + f"{NFC}\t1\t4\t1\n{NFD}\t2\t4\t2\n", 3,
         f"user '{NFD}' is '{NFC}' (line 2 of rb-forms-users.inter) {FORMS}")
rb_error("rb-forms-items", INTER + f"1\t{NFD}\t4\t1\n2\t{NFC}\t4\t2\n", 3,
         f"item '{NFC}' is '{NFD}' (line 2 of rb-forms-items.inter) {FORMS}")
rb_error("rb-forms-catalog", INTER + f"1\t{NFC}\t4\t1\n", 2,
         f"item '{NFD}' is '{NFC}' (line 2 of rb-forms-catalog.inter) {FORMS}",
         item_file=f"item_id:token\tclass:token\n{NFD}\tA\n", file="rb-forms-catalog.item")
rb_error("rb-forms-categories", INTER + "1\t2\t4\t1\n", 3,
         f"category '{NFD}' is '{NFC}' (line 2 of rb-forms-categories.item) {FORMS}",
         item_file=f"item_id:token\tclass:token_seq\n2\t{NFC} A\n3\t{NFD}\n", file="rb-forms-categories.item")
recbole("rb-forms-one-spelling", INTER + f"{NFD}\t{NFD}\t4\t1\n{NFD}\t{NFD}\t2\t2\n",
        f"item_id:token\tclass:token\n{NFD}\t{NFD}\n",
        parse={"behaviors": [b(NFD, NFD, 1, True), b(NFD, NFD, 2, False)], "items": {NFD: item(NFD)}})


def jsonl(name, behaviors, items=None, **kw):
    files = {"behaviors.jsonl": behaviors}
    if items is not None:
        files["items.jsonl"] = items
    case(name, files, **kw)


jsonl("jl-basic",
      '{"user": "u1", "item": "i9", "timestamp": 1700000000, "label": 1}\n'
      '{"user": 7, "item": 3.0, "timestamp": 1.5e9}\n'
      '{"user": -0, "item": 1e3, "timestamp": 2, "label": true}\n'
      '{"user": 123456789012345678901234567890, "item": -5, "timestamp": -3.25, "label": false}\n'
      '{"user": "u1", "item": "i9", "timestamp": 4, "label": null}\n'
      '{"user": "u1", "item": 1.5E2, "timestamp": 5, "label": 2.5}\n'
      '{"user": "u1", "item": -0.0, "timestamp": 6, "label": 0}\n'
      '{"user": "u1", "item": 9007199254740991.0, "timestamp": 7, "label": -1}\n',
      parse={"behaviors": [b("u1", "i9", 1700000000, True), b("7", "3", 1.5e9), b("0", "1000", 2, True),
                           b("123456789012345678901234567890", "-5", -3.25, False), b("u1", "i9", 4),
                           b("u1", "150", 5, True), b("u1", "0", 6, False), b("u1", "9007199254740991", 7, False)],
             "items": {}})
jsonl("jl-crlf-bom", '\ufeff{"user": "a", "item": "b", "timestamp": 1}\r\n\r\n  \t \r\n'
      '{"user": "a", "item": "c", "timestamp": 2}\r\n',
      '\ufeff{"item": "b", "category": "x"}\r\n',
      parse={"behaviors": [b("a", "b", 1), b("a", "c", 2)], "items": {"b": item("x")}})
jsonl("jl-escapes",
      '{"user": "caf\\u00e9", "item": "\\ud83d\\ude00", "timestamp": 1, "x": {"deep": [1, {"a": null}]}}\n'
      '{"user": "q\\"uote\\\\back\\/slash", "item": "tab\\there", "timestamp": 2, "tags": []}\n'
      '{"user": "dup", "user": "last", "item": "é", "timestamp": 3, "label": 1, "label": 0}\n'
      '{ "user" : "sp" , "item" : "ace" , "timestamp" : 4 }\n',
      parse={"behaviors": [b("café", "😀", 1), b('q"uote\\back/slash', "tab\there", 2),
                           b("last", "é", 3, False), b("sp", "ace", 4)], "items": {}})
jsonl("jl-items", '{"user": "u", "item": "a", "timestamp": 1}\n',
      '{"item": "a", "category": "c1", "text": "Toy Story (1995)"}\n'
      '{"item": 2, "category": 17, "text": ""}\n'
      '{"item": "3", "category": "", "text": null}\n'
      '{"item": "4", "category": null}\n'
      '{"item": "5", "text": "Amélie", "other": [1, 2]}\n'
      '{"item": 6, "category": 2.0}\n',
      parse={"behaviors": [b("u", "a", 1)],
             "items": {"a": item("c1", "Toy Story (1995)"), "2": item("17"), "3": item(), "4": item(),
                       "5": item(None, "Amélie"), "6": item("2")}})
case("jl-file", {"log.jsonl": '{"user": "u", "item": "a", "timestamp": 1}\n', "items.jsonl": '{"item": "a"}\n'},
     data="log.jsonl", parse={"behaviors": [b("u", "a", 1)], "items": {"a": item()}})
jsonl("jl-no-final-newline", '{"user": "u", "item": "a", "timestamp": 1}\n{"user": "u", "item": "b", "timestamp": 2}',
      parse={"behaviors": [b("u", "a", 1), b("u", "b", 2)], "items": {}})

# ---- JSON Lines: errors -------------------------------------------------------------------------------

def jl_error(name, behaviors, line, message, items=None, file="behaviors.jsonl"):
    jsonl(name, behaviors, items, error=(file, line, message))


OK = '{"user": "u", "item": "a", "timestamp": 1}\n'
for label, text in [("not-json", "user=u item=a"), ("array", "[1, 2]"), ("number", "3"), ("nan",
                    '{"user": "u", "item": "a", "timestamp": NaN}'), ("infinity",
                    '{"user": "u", "item": "a", "timestamp": Infinity}'), ("trailing", '{"user": "u"} x'),
                    ("two-objects", '{"user": "u"}{"user": "v"}'), ("lone-surrogate", '{"user": "\\ud800"}'),
                    ("low-surrogate-first", '{"user": "\\udc00\\ud800"}'), ("raw-tab", '{"user": "a\tb"}'),
                    ("bad-escape", '{"user": "\\x41"}'), ("leading-zero", '{"timestamp": 01}'),
                    ("plus", '{"timestamp": +1}'), ("point-first", '{"timestamp": .5}'),
                    ("point-last", '{"timestamp": 1.}'), ("single-quotes", "{'user': 'u'}"),
                    ("unquoted-name", '{user: "u"}'), ("trailing-comma", '{"user": "u",}'),
                    ("deep", '{"x": ' + "[" * 64 + "]" * 64 + "}"), ("short-unicode", '{"user": "\\u12"}')]:
    jl_error(f"jl-invalid-{label}", OK + text + "\n", 2, "not a JSON object")
jl_error("jl-nesting-at-limit-is-fine-but-id-missing", OK + '{"x": ' + "[" * 63 + "]" * 63 + "}\n", 2,
         'missing or empty "user" (a string or an integer)')
jl_error("jl-truncated", OK + '{"user": "u", "it', 2, "not a JSON object (truncated last line?)")
for label, text, key in [("missing-user", '{"item": "a", "timestamp": 1}', "user"),
                         ("empty-user", '{"user": "", "item": "a", "timestamp": 1}', "user"),
                         ("user-bool", '{"user": true, "item": "a", "timestamp": 1}', "user"),
                         ("user-fraction", '{"user": 3.5, "item": "a", "timestamp": 1}', "user"),
                         ("user-too-large", '{"user": 1e20, "item": "a", "timestamp": 1}', "user"),
                         ("user-null", '{"user": null, "item": "a", "timestamp": 1}', "user"),
                         ("user-object", '{"user": {"id": 1}, "item": "a", "timestamp": 1}', "user"),
                         ("missing-item", '{"user": "u", "timestamp": 1}', "item"),
                         ("item-list", '{"user": "u", "item": ["a"], "timestamp": 1}', "item")]:
    jl_error(f"jl-{label}", OK + text + "\n", 2, f'missing or empty "{key}" (a string or an integer)')
for label, text in [("string", '"123"'), ("missing", None), ("overflow", "1e999"), ("bool", "true"),
                    ("null", "null"), ("huge-integer", "1" + "0" * 400)]:
    member = "" if text is None else f', "timestamp": {text}'
    jl_error(f"jl-timestamp-{label}", OK + '{"user": "u", "item": "a"' + member + "}\n", 2,
             'missing or non-numeric "timestamp"')
jl_error("jl-label-string", OK + '{"user": "u", "item": "a", "timestamp": 1, "label": "1"}\n', 2,
         '"label" is not a number or boolean')
jl_error("jl-label-list", '{"user": "u", "item": "a", "timestamp": 1, "label": [1]}\n', 1,
         '"label" is not a number or boolean')
jl_error("jl-order-of-checks", '{"item": "a", "timestamp": "x", "label": "y"}\n', 1,
         'missing or empty "user" (a string or an integer)')
jl_error("jl-only-blank-lines", "\n  \n\t\n", None, "no behaviors (only blank lines)")
jl_error("jl-empty-file", "", None, "empty file")
jsonl("jl-invalid-utf8", OK.encode() + b'{"user": "\xff", "item": "a", "timestamp": 1}\n',
      error=("behaviors.jsonl", 2, "not valid UTF-8"))
jl_error("jl-items-missing-item", OK, 2, 'missing or empty "item" (a string or an integer)',
         items='{"item": "a"}\n{"category": "c"}\n', file="items.jsonl")
jl_error("jl-items-category-bool", OK, 1, '"category" is not a string or an integer',
         items='{"item": "a", "category": false}\n', file="items.jsonl")
jl_error("jl-items-category-fraction", OK, 1, '"category" is not a string or an integer',
         items='{"item": "a", "category": 1.5}\n', file="items.jsonl")
jl_error("jl-items-text-number", OK, 1, '"text" is not a string', items='{"item": "a", "text": 5}\n',
         file="items.jsonl")
jl_error("jl-items-duplicate", OK, 2, "item 'a' listed twice", items='{"item": "a"}\n{"item": "a", "text": "t"}\n',
         file="items.jsonl")
jl_error("jl-items-not-object", OK, 1, "not a JSON object", items="[]\n", file="items.jsonl")

# ---- Paths ---------------------------------------------------------------------------------------------

case("path-missing", {}, data="nowhere", error=("nowhere", None, "no such file or folder"))
case("path-no-log-in-folder", {"notes.txt": "nothing here\n"}, error=(".", None,
     "neither path-no-log-in-folder.inter (RecBole) nor behaviors.jsonl (JSON Lines) is in this folder"))
case("path-unknown-extension", {"log.csv": "user,item,timestamp\n"}, data="log.csv",
     error=("log.csv", None, "unknown input format (expected a .inter or .jsonl file, or a dataset folder)"))
case("path-recbole-before-jsonl", {"path-recbole-before-jsonl.inter": INTER + "1\t2\t4\t3\n", "behaviors.jsonl": OK},
     parse={"behaviors": [b("1", "2", 3, True)], "items": {}})


jl_error("jl-forms-users", f'{{"user": "{NFC}", "item": "i", "timestamp": 1}}\n{{"user": "{NFD}", "item": "i", '
         f'"timestamp": 2}}\n', 2, f"user '{NFD}' is '{NFC}' (line 1 of behaviors.jsonl) {FORMS}")
jl_error("jl-forms-catalog", f'{{"user": "u", "item": "{NFC}", "timestamp": 1}}\n', 1,
         f"item '{NFD}' is '{NFC}' (line 1 of behaviors.jsonl) {FORMS}",
         items=f'{{"item": "{NFD}"}}\n', file="items.jsonl")
jl_error("jl-forms-categories", '{"user": "u", "item": "i", "timestamp": 1}\n', 2,
         f"category '{NFC}' is '{NFD}' (line 1 of items.jsonl) {FORMS}",
         items=f'{{"item": "i", "category": "{NFD}"}}\n{{"item": "j", "category": "{NFC}"}}\n', file="items.jsonl")


def main():
    for old in ROOT.iterdir():
        if old.is_dir():
            shutil.rmtree(old)
    for name, (files, expected) in sorted(CASES.items()):
        folder = ROOT / name
        folder.mkdir()
        for file, content in files.items():
            (folder / file).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        (folder / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n",
                                              encoding="utf-8")
    print(f"{len(CASES)} cases")


if __name__ == "__main__":
    main()
