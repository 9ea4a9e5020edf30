#!/usr/bin/env python3
"""Validate the clause catalogue in spec/clauses/ (stdlib only, Python 3.11+).

Usage:
  check_catalogue.py [--root REPO] [--semantics PATH]   validate the catalogue of REPO
  check_catalogue.py --self-test                        prove the checker catches broken files

Checks: every file parses as JSON and has the expected shape; every clause has the required
fields with valid values; clause IDs are well-formed and unique across files; each file's
catalogue_version equals spec/VERSION; every clause ID of ../shared/semantics.md is covered (as
an ID or as the part before '.'); every reference.note names an entry of spec/deviations.md.
Prints per-area and per-level counts and ends with "catalogue: N passed, M failed".
Exit status 0 only when nothing failed.
"""
import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ID_RE = re.compile(r'^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*(\.[a-z0-9-]+)?$')
VERSION_RE = re.compile(r'^\d+\.\d+\.\d+$')
PY_VERSION_RE = re.compile(r'^3\.\d+(\.\d+)?$')
AREAS = ['pipe', 'connection', 'send_recv', 'send_bytes', 'recv_bytes', 'recv_bytes_into', 'poll',
         'eof', 'wait', 'queue', 'joinable_queue', 'simple_queue', 'listener', 'client', 'auth',
         'wire', 'multiprocess']
LEVELS = ['required', 'cpython', 'timing']
PLATFORMS = ['posix', 'linux', 'windows', 'any']
EXC_TYPES = {'OSError', 'EOFError', 'ValueError', 'TypeError', 'BufferTooShort',
             'AuthenticationError', 'Empty', 'Full', 'BrokenPipeError', 'ConnectionResetError',
             'ConnectionRefusedError', 'FileNotFoundError', 'TimeoutError', 'KeyError',
             'AssertionError', 'AttributeError', 'RuntimeError', 'OverflowError',
             'UnpicklingError', 'PicklingError'}
MATCHES = ['exact', 'prefix', 'regex']
REF_STATUS = ['same', 'deviates']
REQUIRED = ['id', 'area', 'title', 'rule', 'level', 'source']
OPTIONAL = ['platform', 'versions', 'exception', 'reference']
# A semantics.md clause line: "12. **CONN-CHECK-ORDER** — ..."
SEM_RE = re.compile(r'^\d+\.\s+\*\*([A-Z][A-Z0-9-]+)\*\*')
# A deviations.md entry: "**D-NEG-LENGTH** (...)" at the start of a paragraph.
DEV_RE = re.compile(r'^\*\*([A-Z][A-Z0-9-]+)\*\*')


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f'FAIL: {what}')
        return ok


def check_clause(rep, c, where, area):
    if not rep.check(isinstance(c, dict), f'{where}: clause is not an object'):
        return None
    cid = c.get('id', '?')
    w = f'{where} [{cid}]'
    for k in REQUIRED:
        rep.check(isinstance(c.get(k), str) and c[k].strip() != '', f'{w}: missing or empty "{k}"')
    for k in c:
        rep.check(k in REQUIRED or k in OPTIONAL, f'{w}: unknown field "{k}"')
    rep.check(isinstance(cid, str) and bool(ID_RE.match(cid)), f'{w}: id does not match {ID_RE.pattern}')
    rep.check(c.get('area') == area, f'{w}: area "{c.get("area")}" differs from the file\'s area "{area}"')
    rep.check(c.get('level') in LEVELS, f'{w}: level "{c.get("level")}" not in {LEVELS}')
    if 'platform' in c:
        rep.check(c['platform'] in PLATFORMS, f'{w}: platform "{c["platform"]}" not in {PLATFORMS}')
    if 'versions' in c:
        v = c['versions']
        if rep.check(isinstance(v, dict) and v, f'{w}: versions must be a non-empty object'):
            for k, val in v.items():
                if k in ('min', 'max'):
                    rep.check(isinstance(val, str) and bool(PY_VERSION_RE.match(val)),
                              f'{w}: versions.{k} "{val}" is not a Python version like 3.12')
                elif k == 'notes':
                    rep.check(isinstance(val, str) and val.strip() != '', f'{w}: versions.notes empty')
                else:
                    rep.check(False, f'{w}: unknown versions field "{k}"')
    if 'exception' in c:
        e = c['exception']
        if rep.check(isinstance(e, dict), f'{w}: exception must be an object'):
            rep.check(e.get('type') in EXC_TYPES, f'{w}: exception type "{e.get("type")}" not allowed')
            rep.check('message' in e and (e['message'] is None or isinstance(e['message'], str)),
                      f'{w}: exception.message must be a string or null')
            rep.check(e.get('message_match', 'exact') in MATCHES,
                      f'{w}: exception.message_match "{e.get("message_match")}" not in {MATCHES}')
            for k in e:
                rep.check(k in ('type', 'message', 'message_match'), f'{w}: unknown exception field "{k}"')
            if e.get('message_match') == 'regex' and isinstance(e.get('message'), str):
                try:
                    re.compile(e['message'])
                    rep.check(True, '')
                except re.error as err:
                    rep.check(False, f'{w}: exception.message is not a valid regex: {err}')
            if e.get('message_match') in ('prefix', 'regex'):
                rep.check(isinstance(e.get('message'), str), f'{w}: {e["message_match"]} match needs a message')
    if 'reference' in c:
        r = c['reference']
        if rep.check(isinstance(r, dict), f'{w}: reference must be an object'):
            rep.check(r.get('status') in REF_STATUS, f'{w}: reference.status "{r.get("status")}" not in {REF_STATUS}')
            for k in r:
                rep.check(k in ('status', 'note'), f'{w}: unknown reference field "{k}"')
    return cid


def find_semantics(root, explicit):
    if explicit:
        return explicit if os.path.isfile(explicit) else None
    for cand in (os.path.join(root, '..', 'shared', 'semantics.md'),
                 os.path.join(root, 'shared', 'semantics.md')):
        if os.path.isfile(cand):
            return os.path.normpath(cand)
    return None


def run(root, semantics=None):
    rep = Report()
    spec = os.path.join(root, 'spec')
    cdir = os.path.join(spec, 'clauses')
    version = None
    vpath = os.path.join(spec, 'VERSION')
    if rep.check(os.path.isfile(vpath), f'{vpath} missing'):
        version = open(vpath, encoding='utf-8').read().strip()
        rep.check(bool(VERSION_RE.match(version)), f'spec/VERSION "{version}" is not MAJOR.MINOR.PATCH')

    dev_ids = set()
    dpath = os.path.join(spec, 'deviations.md')
    if rep.check(os.path.isfile(dpath), f'{dpath} missing'):
        for line in open(dpath, encoding='utf-8'):
            m = DEV_RE.match(line)
            if m:
                dev_ids.add(m.group(1))

    files = sorted(f for f in os.listdir(cdir) if f.endswith('.json')) if os.path.isdir(cdir) else []
    rep.check(bool(files), f'no clause files in {cdir}')
    for area in AREAS:
        rep.check(f'{area}.json' in files, f'clauses/{area}.json missing')

    seen = {}
    per_area = collections.Counter()
    per_level = collections.Counter()
    for fname in files:
        path = os.path.join(cdir, fname)
        where = f'clauses/{fname}'
        try:
            with open(path, encoding='utf-8') as f:
                doc = json.load(f)
            rep.check(True, '')
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            rep.check(False, f'{where}: not valid JSON: {err}')
            continue
        if not rep.check(isinstance(doc, dict) and isinstance(doc.get('clauses'), list),
                         f'{where}: top level must be an object with a "clauses" list'):
            continue
        area = fname[:-len('.json')]
        rep.check(doc.get('area') == area, f'{where}: "area" must be "{area}"')
        rep.check(area in AREAS, f'{where}: area "{area}" is not one of the known areas')
        rep.check(version is None or doc.get('catalogue_version') == version,
                  f'{where}: catalogue_version "{doc.get("catalogue_version")}" differs from spec/VERSION "{version}"')
        for k in doc:
            rep.check(k in ('area', 'catalogue_version', 'clauses'), f'{where}: unknown top-level field "{k}"')
        for i, c in enumerate(doc['clauses']):
            cid = check_clause(rep, c, f'{where}#{i}', area)
            if cid is None:
                continue
            rep.check(cid not in seen, f'{where}: duplicate id {cid} (also in {seen.get(cid)})')
            seen.setdefault(cid, where)
            per_area[area] += 1
            if c.get('level') in LEVELS:
                per_level[c['level']] += 1
            ref = c.get('reference')
            if isinstance(ref, dict) and 'note' in ref:
                rep.check(ref['note'] in dev_ids,
                          f'{where} [{cid}]: reference.note "{ref["note"]}" is not an entry of spec/deviations.md')

    sem = find_semantics(root, semantics)
    if sem is None:
        print('note: ../shared/semantics.md not found beside the repository; skipping the coverage cross-check')
    else:
        covered = {cid.split('.')[0] for cid in seen}
        sem_ids = []
        for line in open(sem, encoding='utf-8'):
            m = SEM_RE.match(line)
            if m:
                sem_ids.append(m.group(1))
        rep.check(bool(sem_ids), f'{sem}: no clause IDs found')
        for sid in sem_ids:
            rep.check(sid in covered, f'semantics.md clause {sid} has no catalogue entry')
        print(f'semantics.md: {len(sem_ids)} clauses, all must be covered ({sem})')

    print('clauses per area:')
    for area in AREAS:
        print(f'  {area:16s} {per_area.get(area, 0)}')
    print('clauses per level: ' + ', '.join(f'{lv} {per_level.get(lv, 0)}' for lv in LEVELS)
          + f'; total {sum(per_area.values())}')
    print(f'catalogue: {rep.passed} passed, {rep.failed} failed')
    return rep.failed == 0


def self_test():
    """Copy the catalogue, break it in known ways, and check that each break is reported."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    script = os.path.abspath(__file__)
    cases = {
        'duplicate id': (lambda d: d['clauses'].append(dict(d['clauses'][0])), 'duplicate id'),
        'bad level': (lambda d: d['clauses'][0].__setitem__('level', 'mandatory'), 'level "mandatory"'),
        'bad exception type': (lambda d: d['clauses'][0].__setitem__('exception', {'type': 'IOError', 'message': None}),
                               'exception type "IOError"'),
        'bad id': (lambda d: d['clauses'][0].__setitem__('id', 'pipe-ret'), 'id does not match'),
        'missing field': (lambda d: d['clauses'][0].pop('rule'), 'missing or empty "rule"'),
        'unknown deviation': (lambda d: d['clauses'][0].__setitem__('reference', {'status': 'deviates', 'note': 'D-NOPE'}),
                              'D-NOPE'),
    }
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        # The pristine copy must pass (semantics cross-check disabled: no shared/ beside it).
        base = os.path.join(tmp, 'repo')
        os.makedirs(os.path.join(base, 'spec'))
        for f in ('VERSION', 'deviations.md'):
            shutil.copy(os.path.join(root, 'spec', f), os.path.join(base, 'spec', f))
        shutil.copytree(os.path.join(root, 'spec', 'clauses'), os.path.join(base, 'spec', 'clauses'))
        r = subprocess.run([sys.executable, script, '--root', base], capture_output=True, text=True)
        good = r.returncode == 0
        print(f'self-test: pristine copy passes: {"ok" if good else "NO"}')
        if not good:
            print(r.stdout[-2000:])
        ok &= good
        # Invalid JSON.
        cases_files = dict(cases)
        for name, (mutate, expect) in list(cases_files.items()) + [('invalid json', (None, 'not valid JSON'))]:
            work = os.path.join(tmp, name.replace(' ', '_'))
            shutil.copytree(base, work)
            target = os.path.join(work, 'spec', 'clauses', 'pipe.json')
            if mutate is None:
                with open(target, 'a', encoding='utf-8') as f:
                    f.write('{ broken')
            else:
                with open(target, encoding='utf-8') as f:
                    doc = json.load(f)
                mutate(doc)
                with open(target, 'w', encoding='utf-8') as f:
                    json.dump(doc, f, indent=2)
            r = subprocess.run([sys.executable, script, '--root', work], capture_output=True, text=True)
            caught = r.returncode != 0 and expect in r.stdout
            print(f'self-test: {name}: {"caught" if caught else "NOT CAUGHT"}')
            if not caught:
                print(r.stdout[-2000:])
            ok &= caught
        # A semantics.md clause without a catalogue entry.
        sem = os.path.join(tmp, 'semantics.md')
        with open(sem, 'w', encoding='utf-8') as f:
            f.write('1. **PIPE-RET** — x. [DOC]\n2. **ZZZ-MISSING** — y. [IMPL]\n')
        r = subprocess.run([sys.executable, script, '--root', base, '--semantics', sem], capture_output=True, text=True)
        caught = r.returncode != 0 and 'ZZZ-MISSING' in r.stdout
        print(f'self-test: uncovered semantics clause: {"caught" if caught else "NOT CAUGHT"}')
        ok &= caught
    print(f'self-test: {"passed" if ok else "FAILED"}')
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--root', default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help='repository root (default: the one holding this script)')
    ap.add_argument('--semantics', help='path of semantics.md (default: ROOT/../shared/semantics.md)')
    ap.add_argument('--self-test', action='store_true', help='check that broken catalogues are rejected')
    args = ap.parse_args()
    if args.self_test:
        return 0 if self_test() else 1
    return 0 if run(os.path.abspath(args.root), args.semantics) else 1


if __name__ == '__main__':
    sys.exit(main())
