#!/usr/bin/env python3
"""Consumer packaging tests: stockguard used the three ways a project can.

    run_consumers.py pkg-config --source-root DIR --version X.Y.Z --meson CMD --cc CMD...
    run_consumers.py subproject ...
    run_consumers.py cmake ...

pkg-config  A separate build of the source tree (release, in a temporary
            directory, never the calling build) is installed into a temporary
            prefix. tests/consumers/consumer.c is compiled with
            `pkg-config --cflags --libs stockguard` and run (LD_LIBRARY_PATH
            = the prefix's libdir); then linked with `pkg-config --static`
            against libstockguard.a and run with no library path. The static
            program must not need libstockguard.so.
subproject  tests/consumers/subproject-parent is copied into a temporary
            directory, its subprojects/stockguard is a symbolic link to the
            source tree, it is configured with --force-fallback-for=stockguard
            (an installed stockguard cannot be picked), built and run.
cmake       The same install as pkg-config, but with --libdir=lib64 (Meson's
            choice on a Debian machine without dpkg-dev, which Debian's CMake
            never searches); the prefix is then moved (the
            package configuration must be relocatable) and
            tests/consumers/cmake-consumer is configured with
            CMAKE_PREFIX_PATH=<moved prefix>, built and run;
            find_package(stockguard <next major>.0) must fail. Exit 77 (skip)
            when cmake is not installed.

Only what an install needs is built (the library targets, found with
`meson introspect --targets`), then `meson install --no-rebuild`: a full
build of the tests and examples would add a minute and prove nothing here.
Everything happens in one temporary directory, removed on exit (also on
SIGTERM, which `meson test` sends on a timeout).
"""

import argparse
import glob
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))


class Failure(Exception):
    pass


def run(cmd, cwd=None, env=None, expect_ok=True):
    """Run cmd; return (returncode, combined output). Fail loudly when it
    does not succeed and expect_ok is set."""
    print('+ ' + ' '.join(shlex.quote(c) for c in cmd), flush=True)
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if expect_ok and proc.returncode != 0:
        sys.stdout.write(proc.stdout)
        raise Failure('exit %d: %s' % (proc.returncode, ' '.join(cmd)))
    return proc.returncode, proc.stdout


def clean_env(**extra):
    env = dict(os.environ)
    # The caller's settings must not leak into the consumer builds.
    for var in ('PKG_CONFIG_PATH', 'PKG_CONFIG_LIBDIR', 'LD_LIBRARY_PATH',
                'CMAKE_PREFIX_PATH', 'stockguard_DIR', 'stockguard_ROOT',
                'CFLAGS', 'LDFLAGS', 'CPPFLAGS'):
        env.pop(var, None)
    env.update(extra)
    return env


def needed_libs(path):
    """DT_NEEDED entries of an ELF file (readelf, from binutils)."""
    _, out = run(['readelf', '-d', path])
    libs = []
    for line in out.splitlines():
        if '(NEEDED)' in line and '[' in line:
            libs.append(line.split('[', 1)[1].split(']', 1)[0])
    return libs


def expect_output(out, want):
    if out.strip() != want:
        sys.stdout.write(out)
        raise Failure('expected %r, got %r' % (want, out.strip()))


def install(args, tmp, env, setup_args=()):
    """Configure a fresh build of the source tree in tmp/build, build what is
    installed and install it into tmp/prefix. Returns the prefix."""
    build = os.path.join(tmp, 'build')
    prefix = os.path.join(tmp, 'prefix')
    run(args.meson + ['setup', build, args.source_root, '--prefix', prefix,
                      '-Dbuildtype=release'] + list(setup_args), env=env)
    _, out = run(args.meson + ['introspect', '--targets', build], env=env)
    outputs = []
    for target in json.loads(out):
        if target.get('installed'):
            outputs += [os.path.relpath(f, build) for f in target['filename']]
    if not outputs:
        raise Failure('meson introspect lists no installed target')
    ninja = shutil.which('ninja') or shutil.which('samu')
    if not ninja:
        raise Failure('ninja not found')
    run([ninja, '-C', build] + outputs, env=env)
    run(args.meson + ['install', '-C', build, '--no-rebuild', '--quiet'], env=env)
    return prefix


def pc_dir(prefix):
    found = glob.glob(os.path.join(prefix, '**', 'pkgconfig', 'stockguard.pc'),
                      recursive=True)
    if len(found) != 1:
        raise Failure('stockguard.pc installed %d times under %s' % (len(found), prefix))
    return os.path.dirname(found[0])


def test_pkg_config(args, tmp):
    env = clean_env(CC=' '.join(args.cc))
    prefix = install(args, tmp, env)
    pcdir = pc_dir(prefix)
    # Only this prefix's .pc files: an installed stockguard cannot answer.
    pkgenv = clean_env(PKG_CONFIG_PATH=pcdir, PKG_CONFIG_LIBDIR=pcdir)

    def pkg_config(*opts):
        return shlex.split(run(['pkg-config'] + list(opts) + ['stockguard'], env=pkgenv)[1])

    version = ' '.join(pkg_config('--modversion'))
    if version != args.version:
        raise Failure('pkg-config --modversion says %s, the project %s' % (version, args.version))
    libdir = ' '.join(pkg_config('--variable=libdir'))
    if not os.path.exists(os.path.join(libdir, 'libstockguard.a')):
        raise Failure('no libstockguard.a in ' + libdir)

    source = os.path.join(HERE, 'consumer.c')
    warn = ['-std=c11', '-Wall', '-Wextra', '-Wpedantic', '-Werror']
    want = 'consumer: ok ' + args.version

    # Shared: `cc consumer.c $(pkg-config --cflags --libs stockguard)`.
    shared = os.path.join(tmp, 'consumer-shared')
    run(args.cc + warn + [source, '-o', shared] + pkg_config('--cflags', '--libs'))
    if 'libstockguard.so.' + args.version.split('.')[0] not in needed_libs(shared):
        raise Failure('consumer-shared does not need libstockguard.so.N')
    expect_output(run([shared], env=clean_env(LD_LIBRARY_PATH=libdir))[1], want)

    # Static: `pkg-config --static`, with libstockguard.a named in place of
    # -lstockguard (the linker would prefer the .so beside it).
    flags = pkg_config('--static', '--cflags', '--libs')
    if '-lstockguard' not in flags:
        raise Failure('pkg-config --static --libs has no -lstockguard: %s' % flags)
    flags = [os.path.join(libdir, 'libstockguard.a') if f == '-lstockguard' else f
             for f in flags]
    static = os.path.join(tmp, 'consumer-static')
    run(args.cc + warn + [source, '-o', static] + flags)
    if any(lib.startswith('libstockguard') for lib in needed_libs(static)):
        raise Failure('consumer-static still needs a shared libstockguard')
    expect_output(run([static], env=clean_env())[1], want)
    print('pkg-config: shared and static consumers ok')


def test_subproject(args, tmp):
    env = clean_env(CC=' '.join(args.cc))
    parent = os.path.join(tmp, 'parent')
    shutil.copytree(os.path.join(HERE, 'subproject-parent'), parent)
    os.mkdir(os.path.join(parent, 'subprojects'))
    os.symlink(args.source_root, os.path.join(parent, 'subprojects', 'stockguard'))
    build = os.path.join(tmp, 'parent-build')
    _, out = run(args.meson + ['setup', build, parent, '--force-fallback-for=stockguard'],
                 env=env)
    if 'Subproject stockguard finished' not in out and 'subproject stockguard' not in out.lower():
        sys.stdout.write(out)
        raise Failure('the stockguard subproject was not configured')
    ninja = shutil.which('ninja') or shutil.which('samu')
    if not ninja:
        raise Failure('ninja not found')
    run([ninja, '-C', build, 'parent'], env=env)
    program = os.path.join(build, 'parent')
    if not any(lib.startswith('libstockguard.so.') for lib in needed_libs(program)):
        raise Failure('parent is not linked to the subproject\'s libstockguard.so')
    expect_output(run([program], env=clean_env())[1], 'parent: ok ' + args.version)
    print('subproject: parent project ok')


def cmake_cache(build, name):
    with open(os.path.join(build, 'CMakeCache.txt'), encoding='utf-8') as f:
        for line in f:
            if line.startswith(name + ':'):
                return line.split('=', 1)[1].strip()
    return None


def test_cmake(args, tmp):
    cmake = shutil.which('cmake')
    if not cmake:
        print('cmake not found: skipped (Debian: apt-get install cmake)')
        return SKIP
    ninja = shutil.which('ninja')
    env = clean_env(CC=' '.join(args.cc))
    # lib64: what Meson picks on a Debian machine without dpkg-dev, and a
    # directory Debian's CMake never searches; the package configuration must
    # be found all the same.
    prefix = install(args, tmp, env, ['--libdir=lib64'])

    # Relocatable: the configuration finds the prefix from its own location.
    moved = os.path.join(tmp, 'moved-prefix')
    os.rename(prefix, moved)
    libdir = os.path.dirname(pc_dir(moved))

    cmenv = clean_env(CC=args.cc[-1])
    major = int(args.version.split('.')[0])
    common = ['-S', os.path.join(HERE, 'cmake-consumer'),
              '-DCMAKE_PREFIX_PATH=' + moved,
              '-DCMAKE_BUILD_TYPE=Release',
              '-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF',
              '-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF']
    if len(args.cc) > 1:  # a launcher such as ccache
        common.append('-DCMAKE_C_COMPILER_LAUNCHER=' + ';'.join(args.cc[:-1]))
    if ninja:
        common += ['-G', 'Ninja']

    build = os.path.join(tmp, 'cmake-build')
    run([cmake, '-B', build, '-DSTOCKGUARD_WANTED=%d.0' % major] + common, env=cmenv)
    found_in = cmake_cache(build, 'stockguard_DIR')
    if not found_in or os.path.commonpath([os.path.realpath(found_in),
                                           os.path.realpath(moved)]) != os.path.realpath(moved):
        raise Failure('stockguard_DIR is %s, not under %s' % (found_in, moved))
    run([cmake, '--build', build], env=cmenv)
    program = os.path.join(build, 'app')
    # No LD_LIBRARY_PATH: CMake's build RPATH points at the moved prefix.
    _, dyn = run(['readelf', '-d', program])
    if libdir not in dyn:
        sys.stdout.write(dyn)
        raise Failure('app has no RPATH/RUNPATH to ' + libdir)
    expect_output(run([program], env=clean_env())[1], 'cmake-consumer: ok ' + args.version)

    # SameMajorVersion: the next major must be refused.
    bad = os.path.join(tmp, 'cmake-build-next-major')
    rc, out = run([cmake, '-B', bad, '-DSTOCKGUARD_WANTED=%d.0' % (major + 1)] + common,
                  env=cmenv, expect_ok=False)
    if rc == 0:
        sys.stdout.write(out)
        raise Failure('find_package(stockguard %d.0) succeeded against %s'
                      % (major + 1, args.version))
    if 'version: ' + args.version not in out:
        sys.stdout.write(out)
        raise Failure('find_package(stockguard %d.0) failed, but not on the version'
                      % (major + 1))
    print('cmake: find_package(stockguard %d.0) ok, %d.0 refused' % (major, major + 1))


TESTS = {'pkg-config': test_pkg_config, 'subproject': test_subproject, 'cmake': test_cmake}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('test', choices=sorted(TESTS))
    parser.add_argument('--source-root', required=True)
    parser.add_argument('--version', required=True)
    parser.add_argument('--meson', required=True, type=shlex.split,
                        help='the meson command')
    parser.add_argument('--cc', required=True, nargs='+',
                        help='the C compiler command (Meson\'s cmd_array())')
    args = parser.parse_args()
    args.source_root = os.path.realpath(args.source_root)

    # `meson test` sends SIGTERM on a timeout: unwind so the directory goes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with tempfile.TemporaryDirectory(prefix='stockguard-consumers-') as tmp:
        try:
            return TESTS[args.test](args, tmp) or 0
        except Failure as e:
            print('FAIL: %s' % e)
            return 1


if __name__ == '__main__':
    sys.exit(main())
