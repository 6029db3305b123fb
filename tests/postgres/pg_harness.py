#!/usr/bin/env python3
"""Run one test program against a PostgreSQL server of its own.

    pg_harness.py BINDIR PROGRAM [ARGS...]
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


def pg_ctl(bindir, base, *args, check=True):
    """Run pg_ctl on the server of BASE (its data/ and server.log) as the
    server's user; -w: start and restart return once it accepts connections."""
    data = os.path.join(base, "data")
    log = os.path.join(base, "server.log")
    opts = (f"-c listen_addresses='' -c unix_socket_directories='{base}' "
            "-c fsync=off -c full_page_writes=off -c max_connections=40 "
            "-c shared_buffers=32MB")
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
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    bindir, prog = sys.argv[1], sys.argv[2:]
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
    started = False

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        if run_as:
            os.chown(base, run_as["user"], run_as["group"])
        subprocess.run([os.path.join(bindir, "initdb"), "-D", data, "-U", "postgres",
                        "-A", "trust", "-E", "UTF8", "--locale=C", "-N"],
                       check=True, stdout=subprocess.DEVNULL, env=env, cwd=base, **run_as)
        pg_ctl(bindir, base, "start")
        started = True
        restart_cmd = [sys.executable, os.path.abspath(__file__), "--restart", bindir, base]
        tenv = dict(os.environ, PGHOST=base, PGPORT="5432", PGUSER="postgres",
                    PGDATABASE="postgres", STG_PG_BINDIR=bindir, STG_PG_DATA=data,
                    STG_PG_RESTART=" ".join(shlex.quote(a) for a in restart_cmd))
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


if __name__ == "__main__":
    sys.exit(main())
