#!/usr/bin/env python3
"""Who holds each TCP port: used by scripts/demo.sh to pick free ports and to check that the
veild it started is the process listening on them.

Usage: port_owners.py PORT...
Prints one tab-separated line per port: PORT, FREE (1 when a listener could bind 127.0.0.1:PORT
with SO_REUSEADDR, as veild binds; 0 otherwise), PID (of the process listening on the port, or -
when none is known) and WHO (a short description for messages).

The listeners come from /proc/net/tcp and /proc/net/tcp6 (LISTEN sockets), their owners from the
socket links under /proc/<pid>/fd. Another user's processes cannot be looked into: such a port is
reported as held by "a process of another user". Needs nothing but Python 3 and Linux's /proc.
"""
import os
import socket
import sys

LISTEN = "0A"


def listening_inodes():
    """Port -> set of socket inodes listening on it (any address)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN:
                port = int(fields[1].rsplit(":", 1)[1], 16)
                found.setdefault(port, set()).add(fields[9])
    return found


def socket_owners(inodes):
    """Inode -> (pid, command line) for the sockets this user can see."""
    owners = {}
    if not inodes:
        return owners
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                except OSError:
                    cmd = "?"
                owners.setdefault(link[8:-1], (int(pid), cmd))
    return owners


def can_bind(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True, ""
    except OSError as e:
        return False, e.strerror or str(e)
    finally:
        s.close()


def main(argv):
    ports = [int(p) for p in argv[1:]]
    listening = listening_inodes()
    wanted = set()
    for p in ports:
        wanted |= listening.get(p, set())
    owners = socket_owners(wanted)
    for p in ports:
        free, why = can_bind(p)
        holders = sorted({owners[i] for i in listening.get(p, set()) if i in owners})
        if holders:
            pid, cmd = holders[0]
            who = f"pid {pid} ({cmd[:120]})"
        elif listening.get(p):
            pid, who = "-", "a process of another user"
        elif not free:
            pid, who = "-", f"no listener this user can see ({why})"
        else:
            pid, who = "-", "nobody"
        print(f"{p}\t{1 if free else 0}\t{pid}\t{who}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
