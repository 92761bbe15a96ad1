# SPDX-License-Identifier: AGPL-3.0-or-later
"""TDLib's TL schema (tests/data/tdlib/td_api.tl), to check what the
Telegram plugin sends: every request must name a TDLib function, every field
a parameter of it, every nested object a class of the right type, every
value the TL type's JSON shape.  A misspelt method or field fails the test
that recorded it.

    schema = Schema()                       # the committed td_api.tl
    problems = schema.check_request(req)    # [] when req is valid
    missing = names_missing_from_lib(path, names)  # names the binary lacks

The committed schema is TDLib's source of a slightly older version than the
prebuilt library the tests run; names_missing_from_lib checks the names
against the library itself (its C++ symbols td::td_api::<name>::ID).
"""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
TL_PATH = os.path.join(SOURCE_ROOT, "tests", "data", "tdlib", "td_api.tl")

_BUILTIN = {"double", "string", "int32", "int53", "int64", "bytes", "Bool", "vector"}
_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)((?:\s+[A-Za-z0-9_]+:[A-Za-z0-9_<>]+)*)\s*=\s*([A-Za-z0-9_<>]+)\s*;$")


class Schema:
    def __init__(self, path=TL_PATH):
        self.classes = {}    # constructor name -> (params {name: type}, result type)
        self.functions = {}  # function name -> (params, result type)
        self.types = {}      # abstract type -> set of constructor names
        functions = False
        with open(path, encoding="utf-8") as f:
            for raw in f:
                line = raw.strip()
                if line == "---functions---":
                    functions = True
                    continue
                if not line or line.startswith("//"):
                    continue
                m = _LINE.match(line)
                if m is None:
                    continue
                name, params, result = m.group(1), m.group(2), m.group(3)
                if name in _BUILTIN or name in ("boolFalse", "boolTrue", "vector"):
                    continue
                fields = {}
                for p in params.split():
                    k, t = p.split(":", 1)
                    fields[k] = t
                if functions:
                    self.functions[name] = (fields, result)
                else:
                    self.classes[name] = (fields, result)
                    self.types.setdefault(result, set()).add(name)

    def names(self):
        return set(self.classes) | set(self.functions)

    def check_request(self, req):
        """Problems of one request (a dict as sent to td_send), [] if none."""
        if not isinstance(req, dict):
            return ["a request is not an object: %r" % (req,)]
        name = req.get("@type")
        if name not in self.functions:
            hint = " (a class, not a function)" if name in self.classes else ""
            return ["unknown TDLib function %r%s" % (name, hint)]
        return self._check_fields(name, self.functions[name][0], req, name)

    def check_object(self, obj, expected=None, where="object"):
        """Problems of one TDLib object (an answer or update in a scenario)."""
        if not isinstance(obj, dict):
            return ["%s is not an object" % where]
        name = obj.get("@type")
        if name not in self.classes:
            return ["%s: unknown TDLib class %r" % (where, name)]
        fields, result = self.classes[name]
        if expected is not None and expected not in (name, result):
            return ["%s: %s is a %s, not a %s" % (where, name, result, expected)]
        return self._check_fields(name, fields, obj, where)

    def _check_fields(self, name, fields, obj, where):
        problems = []
        for k, v in obj.items():
            if k in ("@type", "@extra", "@client_id"):
                continue
            if k not in fields:
                problems.append("%s: %s has no field %r (fields: %s)"
                                % (where, name, k, ", ".join(sorted(fields)) or "none"))
                continue
            problems += self._check_value(fields[k], v, "%s.%s" % (where, k))
        return problems

    def _check_value(self, tl_type, v, where):
        if v is None:
            return []  # TDLib takes null for any object, and a default for a scalar
        if tl_type.startswith("vector<") and tl_type.endswith(">"):
            if not isinstance(v, list):
                return ["%s: a vector is expected, not %r" % (where, v)]
            out = []
            for i, item in enumerate(v):
                out += self._check_value(tl_type[7:-1], item, "%s[%d]" % (where, i))
            return out
        if tl_type in ("int32", "int53"):
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif tl_type == "int64":
            ok = (isinstance(v, int) and not isinstance(v, bool)) or (
                isinstance(v, str) and re.fullmatch(r"-?\d+", v) is not None)
        elif tl_type == "double":
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        elif tl_type in ("string", "bytes"):
            ok = isinstance(v, str)
        elif tl_type == "Bool":
            ok = isinstance(v, bool)
        else:
            return self.check_object(v, tl_type, where)
        return [] if ok else ["%s: %r is not a %s" % (where, v, tl_type)]


def lib_names(lib_path):
    """The td_api classes and functions compiled into a libtdjson.so."""
    with open(lib_path, "rb") as f:
        data = f.read()
    return {m.group(2).decode() for m in re.finditer(rb"td_api(\d+)([A-Za-z][A-Za-z0-9_]*)2IDE", data)
            if int(m.group(1)) == len(m.group(2))}


def names_missing_from_lib(lib_path, names):
    """The names (classes or functions) that the library at lib_path lacks."""
    have = lib_names(lib_path)
    return sorted(set(names) - have)


def request_names(req):
    """Every function and class name a request uses (nested objects too)."""
    out = set()

    def walk(v):
        if isinstance(v, dict):
            t = v.get("@type")
            if isinstance(t, str):
                out.add(t)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(req)
    return out
