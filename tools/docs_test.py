#!/usr/bin/python3
"""Runs every shell block of the README and docs/*.md exactly as written (ctest:
docs.shell_blocks_run_as_written).

A block is a fenced code block whose info string is `sh`. The blocks of one file run in order, in
one bash (`set -euo pipefail`), in a fresh temporary directory that stands for the repository root
of a reader who has run `make build`: it holds `build` (a link to the real build directory) and
nothing else, so a block must create every file it uses. The environment is a newcomer's:
HOME and VEIL_HOME are fresh directories, VEIL_PORT_BASE and VEIL_ENDPOINT name free ports (so a
block that starts veild, and every veil command after it, use them without saying so), and
build/bin comes first on PATH, as for a reader who followed the README's "Using it".

Markers, HTML comments on the line before a block's opening fence (invisible when rendered):
  <!-- not run: REASON -->   the block is illustrative (needs root, a device, minutes of work, or
                             shows a shape, not commands); REASON is required.
A file whose blocks need a veild they do not start themselves says so once, anywhere:
  <!-- docs-test: veild -->  a fresh veild is started on the free ports, with its data directory
                             at ./veil-data, before the file's first block, and stopped after.

The test fails on the first block that exits non-zero, printing the file, the block's first line
and its output. Every background process a block starts is killed at the end of its file.

Usage: docs_test.py REPO_ROOT BUILD_DIR [FILE...]   (default: README.md and docs/*.md)
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

FENCE = re.compile(r"^( *)(`{3,})(.*)$")
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(\S.*?)\s*-->\s*$")
NEEDS_VEILD = "<!-- docs-test: veild -->"
BLOCK_TIMEOUT_S = 300


def blocks(path):
    """Yields (line number, info string, text, not-run reason or None) for each fenced block."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.group(1), m.group(2), m.group(3).strip()
        start = i
        prev = start - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        marker = NOT_RUN.match(lines[prev]) if prev >= 0 else None
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith(indent + fence):
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1
        yield start + 1, info, "\n".join(body) + "\n", marker.group(1) if marker else None


def free_port_base():
    """A base port whose +1..+5 are free now (best effort), away from the defaults."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1] - 1
        if base < 20000 or base > 60000:
            continue
        ok = True
        for k in range(1, 6):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", base + k))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port base")


def healthy(base):
    for k in range(1, 6):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{base + k}/healthz", timeout=2) as r:
                if r.status != 200:
                    return False
        except OSError:
            return False
    return True


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_file(repo, build, rel):
    path = os.path.join(repo, rel)
    todo = []
    skipped = 0
    for line, info, text, reason in blocks(path):
        if info.split()[:1] != ["sh"]:
            continue
        if reason is not None:
            skipped += 1
            continue
        todo.append((line, text))
    needs_veild = NEEDS_VEILD in open(path, encoding="utf-8").read()
    if not todo:
        print(f"{rel}: no block to run ({skipped} marked not run)")
        return True
    with tempfile.TemporaryDirectory(prefix="veil-docs-") as work:
        os.symlink(os.path.abspath(build), os.path.join(work, "build"))
        home = os.path.join(work, ".home")
        os.mkdir(home)
        base = free_port_base()
        env = {
            # As for a reader who followed the README's "Using it": build/bin comes first.
            "PATH": os.path.join(work, "build", "bin")
            + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": home,
            "VEIL_HOME": os.path.join(home, ".veil"),
            "VEIL_PORT_BASE": str(base),
            "VEIL_ENDPOINT": f"http://127.0.0.1:{base}",
            "LANG": "C.UTF-8",
            "TERM": "dumb",
        }
        daemon = None
        if needs_veild:
            log = open(os.path.join(work, "veild.log"), "w")
            daemon = subprocess.Popen(
                [os.path.join(build, "bin", "veild"), "--data-dir", "veil-data"],
                cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.time() + 60
            while not healthy(base):
                if daemon.poll() is not None or time.time() > deadline:
                    kill_group(daemon)
                    log.close()
                    print(f"{rel}: the docs test's veild did not start:\n"
                          + open(os.path.join(work, "veild.log")).read())
                    return False
                time.sleep(0.1)
        # One bash for the whole file: variables and background jobs carry over between blocks,
        # as they do for a reader who pastes them into one terminal.
        script = ["set -euo pipefail"]
        for line, text in todo:
            script.append(f"echo '@@ block at {rel}:{line}' >&2")
            script.append(text)
        script_path = os.path.join(work, ".docs-test.sh")
        with open(script_path, "w") as f:
            f.write("\n".join(script) + "\n")
        output_path = os.path.join(work, ".docs-test.out")
        with open(output_path, "w") as out:
            # Output to a file, not a pipe: a background job the page leaves running (veild)
            # would hold a pipe open after bash exits.
            proc = subprocess.Popen(["/bin/bash", script_path], cwd=work, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        timed_out = False
        try:
            proc.wait(timeout=BLOCK_TIMEOUT_S * len(todo))
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            kill_group(proc)
            if daemon is not None:
                kill_group(daemon)
                log.close()
        output = open(output_path, errors="replace").read()
        if timed_out:
            print(f"{rel}: timed out\n{output}")
            return False
        if proc.returncode != 0:
            where = re.findall(r"^@@ block at (\S+)$", output, re.M)
            print(f"{rel}: FAILED (exit {proc.returncode}) in the block at "
                  f"{where[-1] if where else '?'}; its output:\n{output}")
            return False
        print(f"{rel}: {len(todo)} block(s) ran, {skipped} marked not run")
        return True


def self_test(build):
    """The harness itself: a failing block fails its page, a marked block is skipped, blocks of a
    page share one shell, an indented block runs, and a block that starts a background job does
    not outlive its page."""
    cases = {
        "fails": ("```sh\ntrue\n```\n\n```sh\nfalse\necho never\n```\n", False),
        "skips": ("<!-- not run: shows a shape -->\n```sh\nfalse\n```\n", True),
        "shares": ("```sh\nX=1\n```\n- item\n\n  ```sh\n  test \"$X\" = 1\n  ```\n", True),
        "unset": ("```sh\necho $NOT_SET\n```\n", False),
    }
    with tempfile.TemporaryDirectory(prefix="veil-docs-self-") as repo:
        pid_file = os.path.join(repo, "background.pid")
        cases["background"] = (f"```sh\nsleep 1000 &\necho $! > {pid_file}\n```\n", True)
        ok = True
        for case, (text, want) in cases.items():
            name = case + os.extsep + "md"
            with open(os.path.join(repo, name), "w") as f:
                f.write(text)
            got = run_file(repo, build, name)
            if got != want:
                print(f"self-test: {name} gave {got}, expected {want}")
                ok = False
        pid = int(open(pid_file).read())
        def alive():
            try:  # a zombie (dead, not yet reaped by its new parent) counts as gone
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().rsplit(")", 1)[1].split()[0] != "Z"
            except FileNotFoundError:
                return False
        for _ in range(50):
            if not alive():
                break
            time.sleep(0.1)
        if alive():
            print(f"self-test: the background job {pid} outlived its page")
            os.kill(pid, signal.SIGKILL)
            ok = False
        return 0 if ok else 1


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--self-test":
        return self_test(os.path.abspath(sys.argv[2]))
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    repo, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    files = sys.argv[3:]
    if not files:
        files = ["README.md"] + sorted(
            os.path.join("docs", f) for f in os.listdir(os.path.join(repo, "docs"))
            if f.endswith(".md"))
    ok = True
    for rel in files:
        ok = run_file(repo, build, rel) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
