# SPDX-License-Identifier: AGPL-3.0-or-later
"""The wire guard of the Olvid plugin: its own .proto files against Olvid's.

The plugin declares the part of the daemon's API it uses in its own .proto
files (plugins/olvid/proto).  This test compiles them with protoc into a
descriptor set and compares them with the descriptors of Olvid's official
generated stubs (PyPI olvid-bot): every message, field, enum value, service
and method we declare must exist there with the same number, type, label,
optional-ness, oneof and streaming, and every message we declare must carry
all the fields Olvid's has (a partial message would drop fields silently).

Run: python -m pytest tests/integration/check_olvid_protos.py
(needs protoc and the olvid-bot package; skipped without them).
"""

import importlib
import os
import shutil
import subprocess
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_ROOT = os.path.join(ROOT, "plugins", "olvid", "proto")

descriptor_pb2 = pytest.importorskip("google.protobuf.descriptor_pb2")
olvid_daemon = pytest.importorskip("olvid.protobuf.olvid.daemon")


def _ours():
    protoc = shutil.which("protoc")
    if protoc is None:
        pytest.skip("protoc is not installed")
    protos = []
    for dirpath, _, names in os.walk(PROTO_ROOT):
        protos += [os.path.relpath(os.path.join(dirpath, n), PROTO_ROOT)
                   for n in names if n.endswith(".proto")]
    assert protos, "no .proto files under plugins/olvid/proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        subprocess.run([protoc, "-I", PROTO_ROOT, "--descriptor_set_out=" + out]
                       + sorted(protos), check=True)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as fh:
            fds.ParseFromString(fh.read())
    return {f.name: f for f in fds.file}


def _official():
    files = {}
    base = list(olvid_daemon.__path__)[0]
    names = []
    for dirpath, _, fnames in os.walk(base):
        rel = os.path.relpath(dirpath, base).replace(os.sep, ".")
        names += [f"{olvid_daemon.__name__}.{rel}.{n[:-3]}" for n in fnames if n.endswith("_pb2.py")]
    for mname in sorted(names):
        mod = importlib.import_module(mname)
        proto = descriptor_pb2.FileDescriptorProto()
        mod.DESCRIPTOR.CopyToProto(proto)
        files[proto.name] = proto
    return files


def _field_key(msg, f):
    oneof = None
    if f.HasField("oneof_index") and not f.proto3_optional:
        oneof = msg.oneof_decl[f.oneof_index].name
    # options (packed, deprecated...) too: none today, but a [packed] would change the wire
    return (f.number, f.type, f.type_name, f.label, f.proto3_optional, oneof,
            f.options.SerializeToString(deterministic=True))


def _compare_message(path, ours, theirs, errors):
    their_fields = {f.name: f for f in theirs.field}
    our_names = {f.name for f in ours.field}
    for f in ours.field:
        t = their_fields.get(f.name)
        if t is None:
            errors.append(f"{path}.{f.name}: no such field in Olvid's API")
        elif _field_key(ours, f) != _field_key(theirs, t):
            errors.append(f"{path}.{f.name}: {_field_key(ours, f)} but Olvid's is "
                          f"{_field_key(theirs, t)}")
    for name in their_fields:
        if name not in our_names:
            errors.append(f"{path}: field {name} missing (a partial message drops fields)")
    their_nested = {n.name: n for n in theirs.nested_type}
    for n in ours.nested_type:
        if n.name not in their_nested:
            errors.append(f"{path}.{n.name}: no such nested message in Olvid's API")
        else:
            _compare_message(f"{path}.{n.name}", n, their_nested[n.name], errors)
    their_enums = {e.name: e for e in theirs.enum_type}
    for e in ours.enum_type:
        _compare_enum(f"{path}.{e.name}", e, their_enums.get(e.name), errors)


def _compare_enum(path, ours, theirs, errors):
    if theirs is None:
        errors.append(f"{path}: no such enum in Olvid's API")
        return
    ours_v = {v.name: v.number for v in ours.value}
    theirs_v = {v.name: v.number for v in theirs.value}
    if ours_v != theirs_v:
        errors.append(f"{path}: values {ours_v} but Olvid's are {theirs_v}")


def test_our_protos_match_olvids():
    ours, official = _ours(), _official()
    errors = []
    declared = {"messages": 0, "methods": 0}
    for name, ofile in sorted(ours.items()):
        tfile = official.get(name)
        if tfile is None:
            errors.append(f"{name}: no such file in Olvid's API")
            continue
        if ofile.package != tfile.package:
            errors.append(f"{name}: package {ofile.package} but Olvid's is {tfile.package}")
        tmsgs = {m.name: m for m in tfile.message_type}
        for m in ofile.message_type:
            declared["messages"] += 1
            if m.name not in tmsgs:
                errors.append(f"{name}: message {m.name} not in Olvid's API")
            else:
                _compare_message(f"{tfile.package}.{m.name}", m, tmsgs[m.name], errors)
        tenums = {e.name: e for e in tfile.enum_type}
        for e in ofile.enum_type:
            _compare_enum(f"{tfile.package}.{e.name}", e, tenums.get(e.name), errors)
        tsvcs = {s.name: s for s in tfile.service}
        for s in ofile.service:
            ts = tsvcs.get(s.name)
            if ts is None:
                errors.append(f"{name}: service {s.name} not in Olvid's API")
                continue
            tmeths = {m.name: m for m in ts.method}
            for m in s.method:
                declared["methods"] += 1
                t = tmeths.get(m.name)
                key = lambda x: (x.input_type, x.output_type, x.client_streaming,
                                 x.server_streaming)
                if t is None:
                    errors.append(f"{s.name}.{m.name}: no such method in Olvid's API")
                elif key(m) != key(t):
                    errors.append(f"{s.name}.{m.name}: {key(m)} but Olvid's is {key(t)}")
    assert not errors, "\n".join(errors)
    # the guard compared something: the services the plugin needs are there
    assert declared["messages"] > 100 and declared["methods"] > 80, declared


def test_the_guard_sees_a_wrong_number():
    """A field renumbered in a copy of our files is caught (the guard can fail)."""
    ours, official = _ours(), _official()
    contact = ours["olvid/daemon/datatypes/v1/contact.proto"]
    msg = next(m for m in contact.message_type if m.name == "Contact")
    msg.field[0].number += 100
    errors = []
    tmsg = next(m for m in official["olvid/daemon/datatypes/v1/contact.proto"].message_type
                if m.name == "Contact")
    _compare_message("Contact", msg, tmsg, errors)
    assert errors
    del msg.field[-1]
    errors = []
    _compare_message("Contact", msg, tmsg, errors)
    assert any("missing" in e for e in errors)
