#!/usr/bin/env python3
"""config_keys.py EBM SOURCE_DIR — every config key the code of models/ reads is in the schema.

Reads every call ebm_config_int/float/str/bool(cfg, "section", "key") and
run_parse_widths(cfg, "section", "key", ...) in models/ and looks each (section, key) up in the
schema that `ebm train --print-config` prints for each method of the registry (the common sections
and the method's own). Fails naming each key no schema has (the code would abort there at run time,
see config.h), and each call whose section or key is not a string literal outside the two functions
that pass them on (it could not be checked here). ebm_config_set's "section.key=value" strings are
checked the same way.
"""
import os, re, subprocess, sys

ebm, src = sys.argv[1], sys.argv[2]
registry = open(os.path.join(src, "models/methods/registry.c")).read()
methods = re.findall(r"&ebm_method_(\w+)", registry)
schema = set()
for m in methods:
    out = subprocess.run([ebm, "train", "--print-config", "--set", f"run.method={m}"], capture_output=True, text=True, check=True).stdout
    section = None
    for line in out.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#"):
            schema.add((section, line.split("=")[0].strip()))
call = re.compile(r'\b(ebm_config_(?:int|float|str|bool)|run_parse_widths)\s*\(\s*[^,()]+,\s*([^,()]+),\s*([^,()]+)[,)]')
sets = re.compile(r'"(\w+)\.(\w+)=')
bad, n = 0, 0
for root, _, files in os.walk(os.path.join(src, "models")):
    for f in sorted(files):
        if not f.endswith(".c"):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, src)
        for i, line in enumerate(open(path), 1):
            for fn, sec, key in call.findall(line):
                sec, key = sec.strip(), key.strip()
                if sec.startswith('"') and key.startswith('"'):
                    n += 1
                    if (sec.strip('"'), key.strip('"')) not in schema:
                        print(f"NOT IN THE SCHEMA: {rel}:{i}: [{sec.strip(chr(34))}] {key.strip(chr(34))}")
                        bad = 1
                elif not (fn == "ebm_config_str" and rel.endswith("run/run.c") and sec == "sec") and "const char" not in sec:
                    print(f"NOT A LITERAL: {rel}:{i}: {line.strip()}")
                    bad = 1
            for sec, key in sets.findall(line):
                if "ebm_config_set" in line or "snprintf" in line:
                    n += 1
                    if (sec, key) not in schema:
                        print(f"NOT IN THE SCHEMA: {rel}:{i}: --set [{sec}] {key}")
                        bad = 1
print(f"{n} key reads in models/ checked against {len(schema)} keys of {len(methods)} methods' schemas: {'FAIL' if bad else 'all present'}")
sys.exit(bad)
