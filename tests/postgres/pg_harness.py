#!/usr/bin/env python3
"""Run one test program against a PostgreSQL server of its own.

    pg_harness.py [--durable DIR] BINDIR PROGRAM [ARGS...]

BINDIR holds initdb and pg_ctl (Debian: /usr/lib/postgresql/15/bin, what
`pg_config --bindir` prints). The harness makes a temporary folder, runs
initdb into it, starts the server listening on a Unix socket in that folder
only (listen_addresses='': no TCP port, so parallel tests never collide),
runs PROGRAM with PGHOST/PGPORT/PGUSER/PGDATABASE pointing at it, then stops
the server and removes the folder whatever happened (try/finally, and on
SIGTERM from meson's timeout). The exit status is PROGRAM's.

PostgreSQL refuses to run as root, and CI runs as root: then the folder is
given to `nobody` and initdb and the server run as that user (Python's
subprocess user=/group=); as any other user they run as that user.

The server is made for speed, not for surviving a power cut: initdb -N and
fsync=off skip the disk flushes (a test never crashes the machine, and a
commit's visibility to other sessions, what the tests check, is the same).

--durable DIR is for benchmarks (tests/bench/bench_pg.c): the data
directory goes into a new folder under DIR (a build folder on a disk, not
tmpfs) and the server keeps its durability defaults: fsync, full page
writes, initdb's own flushes, shared_buffers of the server's default. The
socket stays in the folder under /tmp (a socket path is short). The
program gets STG_PG_DURABLE=1 beside STG_PG_DATA.
"""
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    args = sys.argv[1:]
    durable_dir = None
    if args[0] == "--durable":
        durable_dir = os.path.abspath(args[1])
        args = args[2:]
    elif args[0].startswith("--durable="):
        durable_dir = os.path.abspath(args[0][len("--durable="):])
        args = args[1:]
    if len(args) < 2:
        sys.stderr.write(__doc__)
        return 2
    bindir, prog = args[0], args[1:]
    for tool in ("initdb", "pg_ctl", "postgres"):
        path = os.path.join(bindir, tool)
        if not os.access(path, os.X_OK):
            # Never a skip: CI installs the server (tools/install-deps.sh).
            sys.stderr.write(f"pg_harness: {path} not found (Debian package: postgresql; "
                             "run bash tools/install-deps.sh)\n")
            return 1

    run_as = {}
    if os.geteuid() == 0:
        pw = pwd.getpwnam("nobody")
        run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    # The server's environment: no PG* variable of the caller's leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    # /tmp, not meson's folders: `nobody` must reach it, and a Unix socket
    # path must stay under about 100 bytes.
    base = tempfile.mkdtemp(prefix="stg-pg-", dir="/tmp")
    data = os.path.join(base, "data")
    log = os.path.join(base, "server.log")
    data_parent = None
    if durable_dir:
        # `nobody` must be able to reach it: every folder above it needs o+x.
        os.makedirs(durable_dir, exist_ok=True)
        data_parent = tempfile.mkdtemp(prefix="stg-pg-data-", dir=durable_dir)
        data = os.path.join(data_parent, "data")
    started = False

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        if run_as:
            os.chown(base, run_as["user"], run_as["group"])
            if data_parent:
                os.chown(data_parent, run_as["user"], run_as["group"])
        subprocess.run([os.path.join(bindir, "initdb"), "-D", data, "-U", "postgres",
                        "-A", "trust", "-E", "UTF8", "--locale=C"] + ([] if durable_dir else ["-N"]),
                       check=True, stdout=subprocess.DEVNULL, env=env, cwd=base, **run_as)
        opts = f"-c listen_addresses='' -c unix_socket_directories='{base}' -c max_connections=40"
        if not durable_dir:
            opts += " -c fsync=off -c full_page_writes=off -c shared_buffers=32MB"
        subprocess.run([os.path.join(bindir, "pg_ctl"), "-D", data, "-l", log, "-w",
                        "-t", "60", "-o", opts, "start"],
                       check=True, stdout=subprocess.DEVNULL, env=env, cwd=base, **run_as)
        started = True
        tenv = dict(os.environ, PGHOST=base, PGPORT="5432", PGUSER="postgres",
                    PGDATABASE="postgres", STG_PG_BINDIR=bindir, STG_PG_DATA=data)
        if durable_dir:
            tenv["STG_PG_DURABLE"] = "1"
        return subprocess.run(prog, env=tenv).returncode
    except subprocess.CalledProcessError as e:
        sys.stderr.write(f"pg_harness: {e}\n")
        if os.path.exists(log):
            sys.stderr.write(open(log).read())
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("pg_harness: stopped\n")
        return 1
    finally:
        if started:
            subprocess.run([os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate",
                            "-w", "stop"], stdout=subprocess.DEVNULL, env=env, cwd=base,
                           **run_as)
        shutil.rmtree(base, ignore_errors=True)
        if data_parent:
            shutil.rmtree(data_parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
