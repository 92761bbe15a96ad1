#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
# Writes a C file holding config/example.yaml as a string, so the example
# configuration has one source: the YAML file operators read in the tree is
# byte for byte what `passerelle -e` writes.  Run by meson at build time:
#   gen-example.py config/example.yaml pa-config-example-text.c
import sys


def c_literal(line: bytes) -> str:
    out = []
    for b in line:
        if b == 0x5C:
            out.append('\\\\')
        elif b == 0x22:
            out.append('\\"')
        elif b == 0x0A:
            out.append('\\n')
        elif 0x20 <= b < 0x7F and b != 0x3F:  # '?' escaped: no trigraphs
            out.append(chr(b))
        else:
            out.append('\\%03o' % b)  # octal: always 3 digits, never runs on
    return '"' + ''.join(out) + '"'


def main() -> int:
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, 'rb') as f:
        data = f.read()
    if b'\0' in data:
        sys.exit('%s: NUL byte in the example configuration' % src)
    lines = data.splitlines(keepends=True) or [b'']
    body = '\n'.join('  ' + c_literal(line) for line in lines)
    text = ('/* Generated from %s by gen-example.py: edit that file, not this one. */\n'
            '#include <glib.h>\n\n'
            'extern const char pa_config_example_data[];\n'
            'extern const gsize pa_config_example_len;\n\n'
            'const char pa_config_example_data[] =\n%s;\n\n'
            'const gsize pa_config_example_len = %d;\n' % ('config/example.yaml', body, len(data)))
    with open(dst, 'w', encoding='ascii') as f:
        f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
