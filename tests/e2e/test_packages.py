"""The .deb and .rpm packages (echod, echod-tools, and the debug symbols):
built by scripts/package, checked, and driven under a real systemd in a
container (tests/lib/container.py).

The .deb goes through an admin's whole life cycle: install (nothing listens),
start, echo, journal, reload, restart, an edited config surviving an upgrade
to a higher package revision, remove (units stopped and gone), purge (config
and state gone). The .rpm's file list, requires and scriptlets are checked
against the .deb's, and it is installed, upgraded and erased the same way
with Debian's rpm.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import container
import test_restart
import echotest

MSG_CONNECT = "e9f608983f504fdc879109589f12a2f3"
MSG_RELOAD = "96380c7d7f1140ec9c4eb40d5c919714"
UNITS = ("echo.socket", "echo-udp.socket", "echo-chat.socket", "echo-control.socket", "echo.service")
CONFIG = "/etc/echod/echod.conf"
STATE_DIRS = ("/var/lib/private/echod", "/var/lib/echod")
# The deb's documentation only Debian wants; the rpm has them in its header.
DEB_ONLY = {"/usr/share/doc/%s/changelog.Debian.gz", "/usr/share/lintian/overrides/%s"}
# Where the units are: Debian 12's systemd.pc says /lib, Fedora's %{_unitdir} /usr/lib.
DEB_UNIT_DIR = "/lib/systemd/system/"
RPM_UNIT_DIR = "/usr/lib/systemd/system/"
TOOLS = ("echocat", "echoscan", "echobench")
CONFIG_EDIT = "\n# edited by the package test\nidle-timeout = 123\n"

PACKAGES = {}


def project_version():
    with open(os.path.join(echotest.SOURCE_DIR, "CMakeLists.txt")) as f:
        m = re.search(r"project\(echod\s+VERSION\s+([0-9.]+)", f.read())
    return m.group(1)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def build_packages():
    """scripts/package twice (revision 1 and 2); returns {(kind, rev): path}.

    kind: deb, rpm (echod), deb-tools, rpm-tools (echod-tools), ddeb,
    ddeb-tools (their debug symbols)."""
    if PACKAGES:
        return PACKAGES
    build = os.path.join(echotest.BUILD_DIR, "e2e-packages")
    out = tempfile.mkdtemp(prefix="echod-packages-")
    script = os.path.join(echotest.SOURCE_DIR, "scripts", "package")
    for rev in ("1", "2"):
        res = run([script, build], env=dict(os.environ, ECHOD_PACKAGE_RELEASE=rev))
        if res.returncode != 0:
            raise AssertionError("scripts/package failed (%d):\n%s\n%s"
                                 % (res.returncode, res.stdout[-3000:], res.stderr[-3000:]))
        pkgdir = os.path.join(build, "packages")
        kinds = [(r"^echod_.*\.deb$", "deb"), (r"^echod-tools_.*\.deb$", "deb-tools"),
                 (r"^echod-dbgsym_.*\.ddeb$", "ddeb"), (r"^echod-tools-dbgsym_.*\.ddeb$", "ddeb-tools"),
                 (r"^echod-\d.*\.rpm$", "rpm"), (r"^echod-tools-\d.*\.rpm$", "rpm-tools"),
                 (r"^echod-debuginfo-\d.*\.rpm$", "rpm-debuginfo"),
                 (r"^echod-tools-debuginfo-\d.*\.rpm$", "rpm-tools-debuginfo")]
        names = sorted(os.listdir(pkgdir))
        for pattern, kind in kinds:
            found = [n for n in names if re.match(pattern, n)]
            if len(found) != 1:
                raise AssertionError("expected one %s package in %s, found %r" % (kind, pkgdir, names))
            PACKAGES[(kind, rev)] = shutil.copy(os.path.join(pkgdir, found[0]), out)
    PACKAGES["dir"] = out
    return PACKAGES


def tcp_echo(payload, timeout=10.0):
    with socket.create_connection(("127.0.0.1", 7), timeout=timeout) as s:
        port = s.getsockname()[1]
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return echotest.recv_exactly(s, len(payload) + 1), port


def deb_files(deb):
    out = run(["dpkg-deb", "-c", deb], check=True).stdout
    files = set()
    for line in out.splitlines():
        mode, path = line.split()[0], line.split()[5]
        if not mode.startswith("d"):
            files.add(path[1:])
    return files


def deb_field(deb, field):
    return run(["dpkg-deb", "-f", deb, field], check=True).stdout.strip()


def rpm_query(rpm, *args):
    return run(["rpm", "-qp"] + list(args) + [rpm], check=True).stdout


def rpm_files(rpm):
    out = rpm_query(rpm, "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]")
    return {line.split(" ", 1)[1] for line in out.splitlines() if not line.startswith("d")}


def elf_files(deb):
    """{path in the package: (NEEDED sonames, build id, has debug info)} of a .deb's ELF files."""
    tmp = tempfile.mkdtemp()
    try:
        run(["dpkg-deb", "-x", deb, tmp], check=True)
        found = {}
        for root, _, names in os.walk(tmp):
            for name in names:
                path = os.path.join(root, name)
                if os.path.islink(path):
                    continue
                with open(path, "rb") as f:
                    if f.read(4) != b"\x7fELF":
                        continue
                out = run(["objdump", "-p", path], check=True).stdout
                needed = set(re.findall(r"^\s+NEEDED\s+(\S+)", out, flags=re.M))
                notes = run(["readelf", "-n", path], check=True).stdout
                build_id = re.search(r"Build ID: ([0-9a-f]+)", notes).group(1)
                sections = run(["objdump", "-h", path], check=True).stdout
                found[path[len(tmp):]] = (needed, build_id, ".debug_info" in sections)
        return found
    finally:
        shutil.rmtree(tmp)


class PackageContentsTest(unittest.TestCase):
    """Static checks of the packages against each other."""

    @classmethod
    def setUpClass(cls):
        cls.pkgs = build_packages()
        cls.deb = cls.pkgs[("deb", "1")]
        cls.rpm = cls.pkgs[("rpm", "1")]
        cls.tools_deb = cls.pkgs[("deb-tools", "1")]
        cls.tools_rpm = cls.pkgs[("rpm-tools", "1")]
        cls.version = project_version()

    def deb_field(self, field):
        return deb_field(self.deb, field)

    def deb_files(self):
        return deb_files(self.deb)

    def rpm_query(self, *args):
        return rpm_query(self.rpm, *args)

    def deb_script(self, name):
        tmp = tempfile.mkdtemp()
        try:
            run(["dpkg-deb", "-e", self.deb, tmp], check=True)
            path = os.path.join(tmp, name)
            with open(path) as f:
                return f.read()
        finally:
            shutil.rmtree(tmp)

    def rpm_scriptlets(self):
        """{'postinstall': text, 'preuninstall': ..., 'postuninstall': ...}."""
        out = self.rpm_query("--scripts")
        parts = re.split(r"^(\w+) scriptlet \(using [^)]*\):\n", out, flags=re.M)
        return dict(zip(parts[1::2], parts[2::2]))

    def test_file_names_follow_the_version(self):
        arch = run(["dpkg", "--print-architecture"], check=True).stdout.strip()
        rarch = os.uname().machine
        for kind, name in (("deb", "echod_%s-1_%s.deb"), ("deb-tools", "echod-tools_%s-1_%s.deb"),
                           ("ddeb", "echod-dbgsym_%s-1_%s.ddeb"),
                           ("ddeb-tools", "echod-tools-dbgsym_%s-1_%s.ddeb")):
            self.assertEqual(os.path.basename(self.pkgs[(kind, "1")]), name % (self.version, arch))
            self.assertEqual(deb_field(self.pkgs[(kind, "1")], "Version"), self.version + "-1")
        for kind, name in (("rpm", "echod-%s-1.%s.rpm"), ("rpm-tools", "echod-tools-%s-1.%s.rpm")):
            self.assertEqual(os.path.basename(self.pkgs[(kind, "1")]), name % (self.version, rarch))
            self.assertEqual(rpm_query(self.pkgs[(kind, "1")], "--qf", "%{VERSION}-%{RELEASE}"),
                             self.version + "-1")

    def test_each_package_has_its_own_name_and_description(self):
        self.assertEqual(deb_field(self.deb, "Package"), "echod")
        self.assertEqual(deb_field(self.tools_deb, "Package"), "echod-tools")
        self.assertNotEqual(deb_field(self.deb, "Description").splitlines()[0],
                            deb_field(self.tools_deb, "Description").splitlines()[0])
        for rpm, name in ((self.rpm, "echod"), (self.tools_rpm, "echod-tools")):
            self.assertEqual(rpm_query(rpm, "--qf", "%{NAME}"), name)
            self.assertRegex(rpm_query(rpm, "--qf", "%{URL}"), r"^https://")
            self.assertNotIn("rfc", rpm_query(rpm, "--qf", "%{URL}"))
        self.assertIn("echoscan", deb_field(self.tools_deb, "Description"))

    def test_deb_contains_binaries_units_config_man_catalog_docs(self):
        files = self.deb_files()
        for path in ("/usr/sbin/echod", CONFIG, "/usr/lib/systemd/catalog/echod.catalog",
                     "/usr/share/doc/echod/copyright", "/usr/share/doc/echod/changelog.Debian.gz",
                     "/usr/share/doc/echod/chat.md", "/usr/share/doc/echod/examples/redis.conf",
                     "/usr/share/man/man8/echod.8.gz", "/usr/share/man/man5/echod.conf.5.gz",
                     DEB_UNIT_DIR + "echod.service"):
            self.assertIn(path, files)
        for unit in UNITS:
            self.assertIn(DEB_UNIT_DIR + unit, files)
        tools = deb_files(self.tools_deb)
        for tool in TOOLS:
            self.assertIn("/usr/bin/" + tool, tools)
            self.assertNotIn("/usr/bin/" + tool, files, "the daemon's package has " + tool)
        self.assertNotIn("/usr/sbin/echod", tools)
        for path in ("/usr/share/doc/echod-tools/copyright",
                     "/usr/share/doc/echod-tools/changelog.Debian.gz"):
            self.assertIn(path, tools)
        # Every program has its man page, in the program's package.
        for package in (files, tools):
            for path in package:
                m = re.match(r"^/usr/(s?)bin/([^/]+)$", path)
                if m:
                    section = "8" if m.group(1) else "1"
                    self.assertIn("/usr/share/man/man%s/%s.%s.gz" % (section, m.group(2), section),
                                  package, "no man page for " + path)

    def test_echod_service_has_the_alias_echod(self):
        out = run(["dpkg-deb", "-c", self.deb], check=True).stdout
        self.assertRegex(out, r"\./lib/systemd/system/echod\.service -> echo\.service\n")
        links = rpm_query(self.rpm, "--qf", "[%{FILENAMES} %{FILELINKTOS}\n]")
        self.assertIn(RPM_UNIT_DIR + "echod.service echo.service", links.splitlines())

    def test_rpm_has_the_same_files_as_the_deb_with_fedora_unit_paths(self):
        for deb, rpm, name in ((self.deb, self.rpm, "echod"),
                               (self.tools_deb, self.tools_rpm, "echod-tools")):
            expected = {p.replace(DEB_UNIT_DIR, RPM_UNIT_DIR) for p in deb_files(deb)}
            self.assertEqual(rpm_files(rpm), expected - {p % name for p in DEB_ONLY})

    def test_debug_symbols_match_the_binaries(self):
        for pkg, ddeb, name in ((self.deb, "ddeb", "echod"), (self.tools_deb, "ddeb-tools", "echod-tools")):
            ddeb = self.pkgs[(ddeb, "1")]
            self.assertEqual(deb_field(ddeb, "Package"), name + "-dbgsym")
            self.assertEqual(deb_field(ddeb, "Depends"), "%s (= %s-1)" % (name, self.version))
            debug_files = deb_files(ddeb)
            binaries = elf_files(pkg)
            self.assertTrue(binaries, name)
            for path, (_, build_id, has_debug) in binaries.items():
                self.assertIn("/usr/lib/debug/.build-id/%s/%s.debug" % (build_id[:2], build_id[2:]),
                              debug_files, path)
                self.assertFalse(has_debug, "%s in %s is not stripped" % (path, name))

    def test_rpm_debuginfo_has_symbols_and_sources(self):
        for kind, binary in (("rpm-debuginfo", "/usr/sbin/echod"),
                             ("rpm-tools-debuginfo", "/usr/bin/echoscan")):
            files = rpm_files(self.pkgs[(kind, "1")])
            self.assertTrue(any(f.startswith("/usr/lib/debug" + binary) and f.endswith(".debug")
                                for f in files), files)
            self.assertTrue(any(f.startswith("/usr/src/debug/echod/") and f.endswith(".c")
                                for f in files), files)

    def test_config_is_a_conffile_in_both(self):
        tmp = tempfile.mkdtemp()
        try:
            run(["dpkg-deb", "-e", self.deb, tmp], check=True)
            with open(os.path.join(tmp, "conffiles")) as f:
                self.assertEqual(f.read().split(), [CONFIG])
        finally:
            shutil.rmtree(tmp)
        self.assertEqual(self.rpm_query("-c").split(), [CONFIG])
        flags = self.rpm_query("--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]")
        self.assertIn("cn " + CONFIG, flags.splitlines(), "not %config(noreplace)")

    def test_dependencies_are_the_shared_libraries_in_both(self):
        ldconfig = run(["ldconfig", "-p"], check=True).stdout
        for deb, rpm in ((self.deb, self.rpm), (self.tools_deb, self.tools_rpm)):
            needed = set()
            for sonames, _, _ in elf_files(deb).values():
                needed |= sonames
            self.assertIn("libc.so.6", needed)
            requires = rpm_query(rpm, "-R").split("\n")
            depends = {d.strip().split()[0] for d in deb_field(deb, "Depends").split(",")}
            lib_packages = set()
            for soname in needed:
                self.assertTrue(any(r.startswith(soname + "(") for r in requires),
                                "rpm does not require %s: %r" % (soname, requires))
                m = re.search(r"^\s+%s \(libc6,x86-64\) => (\S+)" % re.escape(soname), ldconfig,
                              flags=re.M)
                self.assertIsNotNone(m, soname)
                owner = run(["dpkg", "-S", os.path.realpath(m.group(1))]).stdout
                if not owner:
                    owner = run(["dpkg", "-S", m.group(1)], check=True).stdout
                package = owner.split(":")[0]
                lib_packages.add(package)
                self.assertIn(package, depends, "%s does not depend on %s for %s"
                              % (deb, package, soname))
            # Nothing the package does not need.
            self.assertEqual(depends - lib_packages, set())
            self.assertEqual([r for r in requires if r and not re.match(
                r"^(/bin/sh|rtld\(|rpmlib\(|config\(echod\)|lib\S+\.so)", r)], [])
        # The daemon does not pull in the scanner's io_uring library.
        self.assertNotIn("liburing", deb_field(self.deb, "Depends"))

    def test_scriptlets_do_what_the_deb_maintainer_scripts_do(self):
        deb = {name: self.deb_script(name) for name in ("postinst", "prerm", "postrm")}
        rpm = self.rpm_scriptlets()
        self.assertEqual(sorted(rpm), ["postinstall", "postuninstall", "preuninstall"])
        for text in list(deb.values()) + list(rpm.values()):
            self.assertEqual(run(["sh", "-n"], input=text).returncode, 0, text)
        # After install and after removal systemd is reloaded.
        self.assertIn("daemon-reload", deb["postinst"])
        self.assertIn("daemon-reload", rpm["postinstall"])
        self.assertIn("daemon-reload", deb["postrm"])
        self.assertIn("daemon-reload", rpm["postuninstall"])
        # The journal catalog is updated.
        self.assertIn("journalctl --update-catalog", deb["postinst"])
        self.assertIn("journalctl --update-catalog", rpm["postinstall"])
        # An upgrade restarts what runs (and only that).
        self.assertRegex(deb["postinst"], r"try-restart \$UNITS")
        self.assertRegex(rpm["postuninstall"], r'if \[ "\$1" -ge 1 \][^\n]*\n[^\n]*try-restart')
        # Removal stops the units.
        self.assertRegex(deb["prerm"], r'"\$1" = remove\b(?:(?!\nfi)[\s\S])*deb-systemd-invoke stop \$UNITS')
        self.assertRegex(rpm["preuninstall"], r'"\$1" -eq 0\b(?:(?!\nfi)[\s\S])*disable --now')
        # Installing starts and enables nothing (no preset either).
        for text in (deb["postinst"], rpm["postinstall"]):
            text = re.sub(r"^\s*#.*\n", "", text, flags=re.M)
            self.assertNotRegex(text, r"(deb-systemd-invoke|systemctl)[^\n]* (start|restart|enable|preset)\b")
        # Both act on the same units.
        units = re.search(r'^UNITS="([^"]*)"', deb["postinst"], flags=re.M).group(1).split()
        self.assertEqual(sorted(units), sorted(UNITS))
        for unit in units:
            self.assertIn(unit, rpm["preuninstall"])
            self.assertIn(unit, rpm["postuninstall"])
        # Purge (deb only: rpm has none) removes config leftovers and state.
        for path in STATE_DIRS:
            self.assertIn(path, deb["postrm"])

    def test_lintian_reports_no_errors_or_warnings(self):
        res = run(["lintian", "--fail-on", "error,warning", self.deb, self.tools_deb])
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertNotRegex(res.stdout, r"^[EW]:", res.stdout)

    def test_rpmlint_reports_no_errors(self):
        config = os.path.join(echotest.SOURCE_DIR, "packaging", "rpm", "rpmlint.toml")
        res = run(["rpmlint", "-c", config, self.rpm, self.tools_rpm])
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertRegex(res.stdout, r"\b0 errors\b", res.stdout)


class LifecycleMixin:
    """Shared steps for both package managers, in one container per class."""

    @classmethod
    def setUpClass(cls):
        cls.pkgs = build_packages()
        cls.version = project_version()
        cls.ct = container.Container(bind=cls.pkgs["dir"], free_ports=container.PORT_7)
        cls.ct.__enter__()
        # Docker-derived hosts carry a policy-rc.d that forbids maintainer
        # scripts to start or stop anything (deb-systemd-invoke obeys it).
        # The container stands for an ordinary Debian system: drop it there
        # (the root is a throwaway overlay; the host keeps its file).
        cls.ct.run("rm -f /usr/sbin/policy-rc.d")

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "ct"):
            cls.ct.__exit__(None, None, None)

    def in_pkg(self, kind, rev):
        return "/pkg/" + os.path.basename(self.pkgs[(kind, rev)])

    def status(self, unit="echo.service"):
        return self.ct.run(["systemctl", "status", "--no-pager", "-l", "-n", "30", unit]).stdout

    def main_pid(self):
        return self.ct.unit_property("echo.service", "MainPID")

    def assert_echo(self, payload=b"echo through the package\n"):
        data, port = tcp_echo(payload)
        self.assertEqual(data, payload, self.status())
        return port

    def assert_installed_idle(self):
        """Installed, and nothing enabled, started or listening."""
        for unit in UNITS:
            self.assertEqual(self.ct.unit_property(unit, "ActiveState"), "inactive", unit)
            self.assertEqual(self.ct.unit_property(unit, "LoadState"), "loaded", unit)
            self.assertEqual(self.ct.run(["systemctl", "is-enabled", unit]).stdout.strip(),
                             "disabled", unit)
        # "systemctl status echod" finds echo.service (a packaged alias).
        self.assertEqual(self.ct.unit_property("echod.service", "Id"), "echo.service")
        self.assertTrue(echotest.connection_refused(("127.0.0.1", 7)))
        self.assertEqual(self.ct.check(["/usr/sbin/echod", "--version"]).strip(),
                         "echod " + self.version)

    def assert_serving_and_logging(self):
        self.ct.check("systemctl start echo.socket")
        port = self.assert_echo()
        self.assertEqual(self.ct.wait_state("echo.service", "active"), "active")
        entry = self.ct.wait_journal(lambda e: e.get("MESSAGE_ID") == MSG_CONNECT
                                     and e.get("REMOTE_PORT") == str(port), unit="echo.service")
        self.assertIn(entry.get("REMOTE_ADDR"), ("127.0.0.1", "::ffff:127.0.0.1"))

    def assert_reload_and_restart(self):
        pid = self.main_pid()
        res = self.ct.systemctl("reload", "echo.service")
        self.assertEqual(res.returncode, 0, "%r\n%s" % (res, self.status()))
        self.ct.wait_journal(lambda e: e.get("MESSAGE_ID") == MSG_RELOAD, unit="echo.service")
        self.assertEqual(self.main_pid(), pid)
        self.assert_echo()
        res = self.ct.systemctl("restart", "echo.service")
        self.assertEqual(res.returncode, 0, "%r\n%s" % (res, self.status()))
        self.ct.wait_state("echo.service", "active")
        self.assertNotEqual(self.main_pid(), pid)
        self.assert_echo()

    def edit_config_and_enable(self):
        self.ct.check("printf '%%s' '%s' >> %s" % (CONFIG_EDIT, CONFIG))
        self.ct.check("systemctl enable echo.socket")
        self.ct.check("systemctl start echo.socket")
        self.assert_echo()
        self.ct.wait_state("echo.service", "active")
        return self.main_pid()

    def wait_streams(self, streams, driver, timeout=60.0):
        """Wait until every stream has had more echoed than now."""
        since = [s.received for s in streams]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if driver.failure:
                self.fail("%s\n%s" % (driver.failure, self.status()))
            if all(s.received > before for s, before in zip(streams, since)):
                return
            time.sleep(0.05)
        self.fail("clients got no echo for %ss\n%s" % (timeout, self.status()))

    def assert_upgraded(self, old_pid):
        self.assertIn(CONFIG_EDIT.strip(), self.ct.check(["cat", CONFIG]))
        self.assertEqual(self.ct.wait_state("echo.service", "active"), "active", self.status())
        self.assertNotEqual(self.main_pid(), old_pid, "the upgrade did not restart echo.service")
        self.assertEqual(self.ct.run("systemctl is-enabled echo.socket").stdout.strip(), "enabled")
        self.assert_echo()

    def assert_tools_work(self):
        out = self.ct.check("printf 'through echocat\\n' | echocat 127.0.0.1 7")
        self.assertEqual(out, "through echocat\n")
        self.assertIn("7/tcp", self.ct.check("echoscan 127.0.0.1 -p 7"))
        self.assertIn("requests", self.ct.check("echobench -c 1 -d 200ms 127.0.0.1 7"))

    def assert_removed(self):
        for unit in UNITS:
            self.assertIn(self.ct.unit_property(unit, "ActiveState"), ("inactive", "failed"), unit)
            self.assertFalse(self.ct.exists("/lib/systemd/system/" + unit), unit)
        self.assertEqual(self.ct.unit_property("echo.service", "ActiveState"), "inactive",
                         self.status())
        self.assertFalse(self.ct.exists("/usr/sbin/echod"))
        self.assertTrue(echotest.connection_refused(("127.0.0.1", 7)))


class DebLifecycleTest(LifecycleMixin, unittest.TestCase):

    def dpkg(self, *args):
        res = self.ct.run("DEBIAN_FRONTEND=noninteractive dpkg " + container.sh_quote(*args)
                          + " </dev/null", timeout=180)
        self.assertEqual(res.returncode, 0, res)
        return res

    def test_01_install_opens_no_port(self):
        self.dpkg("-i", self.in_pkg("deb", "1"))
        self.assert_installed_idle()
        # Reinstalling runs the upgrade path: it must not enable or start
        # anything either (echo.service's Also=echo.socket included).
        self.dpkg("-i", self.in_pkg("deb", "1"))
        self.assert_installed_idle()
        catalog = self.ct.check("journalctl --list-catalog " + MSG_CONNECT)
        self.assertIn(MSG_CONNECT, catalog)
        self.assertTrue(self.ct.exists("/usr/share/man/man8/echod.8.gz"))

    def test_02_start_echo_and_journal(self):
        self.assert_serving_and_logging()

    def test_02b_tools_package_installs_beside_the_daemon(self):
        self.dpkg("-i", self.in_pkg("deb-tools", "1"))
        self.assert_tools_work()

    def test_03_reload_and_restart(self):
        self.assert_reload_and_restart()

    def test_04_edited_config_survives_upgrade_and_service_restarts(self):
        pid = self.edit_config_and_enable()
        # Clients streaming through the upgrade keep their connections (restart hand-over).
        streams = [test_restart.Stream(i) for i in range(20)]
        driver = test_restart.Driver(streams)
        driver.start()
        self.wait_streams(streams, driver)
        self.dpkg("-i", self.in_pkg("deb", "2"))
        self.wait_streams(streams, driver)
        driver.finish.set()
        driver.join(120)
        self.assertFalse(driver.is_alive(), "clients did not finish")
        self.assertIsNone(driver.failure)
        for stream in streams:
            self.assertIsNone(stream.error)
            self.assertEqual(stream.received, stream.sent, "client %d" % stream.number)
            stream.sock.close()
        version = self.ct.check(["dpkg-query", "-W", "-f", "${Version}", "echod"])
        self.assertEqual(version, self.version + "-2")
        self.assertFalse(self.ct.exists(CONFIG + ".dpkg-dist"))
        self.assert_upgraded(pid)

    def test_05_remove_stops_and_removes_units(self):
        self.assertTrue(self.ct.exists("/var/lib/private/echod"), "no state directory")
        self.dpkg("-r", "echod-tools", "echod")
        self.ct.check("systemctl daemon-reload")
        self.assertFalse(self.ct.exists("/usr/bin/echocat"))
        self.assert_removed()
        self.assertTrue(self.ct.exists(CONFIG), "remove must keep the conffile")

    def test_06_purge_removes_config_and_state(self):
        self.dpkg("-P", "echod", "echod-tools")
        for path in (CONFIG, "/etc/echod") + STATE_DIRS:
            self.assertFalse(self.ct.exists(path), path)
        self.assertEqual(self.ct.run("dpkg-query -W echod").returncode, 1)
        links = self.ct.run("find /etc/systemd/system -name 'echo*'").stdout.strip()
        self.assertEqual(links, "", "enablement or mask links left behind")


class RpmLifecycleTest(LifecycleMixin, unittest.TestCase):
    """Debian's rpm stands in for an RPM distribution: it has its own
    database (dependencies are not resolved, hence --nodeps) but runs the
    scriptlets under the container's systemd."""

    def rpm(self, *args):
        res = self.ct.run(["rpm", "--force-debian", "--nodeps"] + list(args), timeout=180)
        self.assertEqual(res.returncode, 0, res)
        return res

    def test_01_install_opens_no_port(self):
        self.rpm("-i", self.in_pkg("rpm", "1"))
        self.assert_installed_idle()
        self.assertIn(MSG_CONNECT, self.ct.check("journalctl --list-catalog " + MSG_CONNECT))

    def test_02_start_echo_and_journal(self):
        self.assert_serving_and_logging()
        self.assertTrue(self.ct.exists(RPM_UNIT_DIR + "echo.socket"))

    def test_02b_tools_package_installs_beside_the_daemon(self):
        self.rpm("-i", self.in_pkg("rpm-tools", "1"))
        self.assert_tools_work()

    def test_03_edited_config_survives_upgrade_and_service_restarts(self):
        pid = self.edit_config_and_enable()
        self.rpm("-U", self.in_pkg("rpm", "2"))
        self.assertEqual(self.ct.check(["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}", "echod"]),
                         self.version + "-2")
        self.assertFalse(self.ct.exists(CONFIG + ".rpmnew"))
        self.assert_upgraded(pid)

    def test_04_erase_stops_and_removes_units(self):
        self.rpm("-e", "echod-tools", "echod")
        self.ct.check("systemctl daemon-reload")
        self.assert_removed()
        # An edited %config(noreplace) file is kept as .rpmsave.
        self.assertTrue(self.ct.exists(CONFIG + ".rpmsave"))


if __name__ == "__main__":
    container.skip_unless_available()
    echotest.require(echotest.need_tools("dpkg-deb", "rpm", "rpmbuild", "lintian", "rpmlint", "cpack",
                                         "objdump", "readelf", hint="./scripts/deps.sh package"))
    try:
        echotest.main()
    finally:
        if PACKAGES.get("dir"):
            shutil.rmtree(PACKAGES["dir"], ignore_errors=True)
