#!/usr/bin/env python3
"""Run one test program against a PostgreSQL server of its own.

    pg_harness.py [--durable DIR] BINDIR PROGRAM [ARGS...]
    pg_harness.py --restart BINDIR BASE MODE   (what STG_PG_RESTART runs)

BINDIR holds initdb and pg_ctl (Debian: /usr/lib/postgresql/15/bin, what
`pg_config --bindir` prints). The harness makes a temporary folder, runs
initdb into it, starts the server listening on a Unix socket in that folder
only (listen_addresses='': no TCP port, so parallel tests never collide),
runs PROGRAM with PGHOST/PGPORT/PGUSER/PGDATABASE pointing at it, then stops
the server and removes the folder whatever happened (try/finally, and on
SIGTERM from meson's timeout). The exit status is PROGRAM's.

PROGRAM may restart the whole server: STG_PG_RESTART holds a shell command
line to which it appends a pg_ctl shutdown mode (`fast`, or `immediate`, a
crash: the next start runs crash recovery). It runs this file again with
--restart, which runs `pg_ctl restart -m MODE -w` as the server's user with
the same options and log, and returns once the server accepts connections
again (exit status 0) or failed to (1, the server log on stderr). So this
file stays the one place that knows how to start and stop a server.

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
socket stays in the folder under /tmp (a socket path is short; BASE/data
is then a link to the data directory). The program gets STG_PG_DURABLE=1
beside STG_PG_DATA.
"""
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile


def server_user():
    """subprocess.run() arguments that run a server program as `nobody` under
    root (PostgreSQL refuses root), none as any other user."""
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam("nobody")
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def server_env():
    """The server's environment: no PG* variable of the caller's leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def server_opts(base, durable):
    """The server's settings, kept in BASE/server.opts so that a --restart
    starts it the way it was started."""
    opts = f"-c listen_addresses='' -c unix_socket_directories='{base}' -c max_connections=40"
    if not durable:
        opts += " -c fsync=off -c full_page_writes=off -c shared_buffers=32MB"
    with open(os.path.join(base, "server.opts"), "w") as f:
        f.write(opts)


def pg_ctl(bindir, base, *args, check=True):
    """Run pg_ctl on the server of BASE (its data/ and server.log) as the
    server's user; -w: start and restart return once it accepts connections."""
    data = os.path.join(base, "data")
    log = os.path.join(base, "server.log")
    with open(os.path.join(base, "server.opts")) as f:
        opts = f.read()
    return subprocess.run([os.path.join(bindir, "pg_ctl"), "-D", data, "-l", log, "-w",
                           "-t", "60", "-o", opts, *args],
                          check=check, stdout=subprocess.DEVNULL, env=server_env(),
                          cwd=base, **server_user())


def restart(bindir, base, mode):
    """--restart: the server of BASE stopped with MODE and started again."""
    if mode not in ("smart", "fast", "immediate"):
        sys.stderr.write(f"pg_harness: --restart: mode {mode!r} is not smart, fast or immediate\n")
        return 2
    try:
        pg_ctl(bindir, base, "-m", mode, "restart")
    except subprocess.CalledProcessError as e:
        sys.stderr.write(f"pg_harness: restart: {e}\n")
        log = os.path.join(base, "server.log")
        if os.path.exists(log):
            sys.stderr.write(open(log).read())
        return 1
    return 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--restart":
        return restart(*sys.argv[2:])
    args = sys.argv[1:]
    durable_dir = None
    if args and args[0] == "--durable" and len(args) > 1:
        durable_dir = os.path.abspath(args[1])
        args = args[2:]
    elif args and args[0].startswith("--durable="):
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

    run_as = server_user()
    env = server_env()
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
        if data_parent:
            os.symlink(data, os.path.join(base, "data"))
        server_opts(base, durable_dir is not None)
        pg_ctl(bindir, base, "start")
        started = True
        restart_cmd = [sys.executable, os.path.abspath(__file__), "--restart", bindir, base]
        tenv = dict(os.environ, PGHOST=base, PGPORT="5432", PGUSER="postgres",
                    PGDATABASE="postgres", STG_PG_BINDIR=bindir, STG_PG_DATA=data,
                    STG_PG_RESTART=" ".join(shlex.quote(a) for a in restart_cmd))
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
            pg_ctl(bindir, base, "-m", "immediate", "stop", check=False)
        shutil.rmtree(base, ignore_errors=True)
        if data_parent:
            shutil.rmtree(data_parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
